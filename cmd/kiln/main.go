// Command kiln is the command line of the kiln engine: the demo, training,
// evaluation, the research loops and the benchmarks, one subcommand each.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand. Each lives in its own file and registers itself
// in init, so adding one never touches this file.
type command struct {
	name    string
	summary string                    // one line for `kiln --help`
	run     func(args []string) error // parses its own flags
}

var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("kiln: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage reports a usage problem already printed by the flag set.
var errUsage = errors.New("usage")

func usage() {
	fmt.Fprintln(os.Stderr, "kiln: a Go engine for training and studying small vision-language models.")
	fmt.Fprintln(os.Stderr, "\nUsage: kiln <command> [flags]   (kiln <command> -h for its flags)\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-10s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "kiln: unknown command %q (known: %s)\n", os.Args[1], strings.Join(sortedNames(), ", "))
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		if errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "kiln %s: %v\n", c.name, err)
		os.Exit(1)
	}
}

func sortedNames() []string {
	var s []string
	for n := range commands {
		s = append(s, n)
	}
	sort.Strings(s)
	return s
}

// newFlags returns a silent flag set for a subcommand: parse it with
// parseFlags, which prints the usage on -h and turns a bad flag into one line.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("kiln "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs and rejects positional arguments.
func parseFlags(c *command, fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "kiln %s: %s\n\nFlags:\n", c.name, c.summary)
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
		return errUsage
	}
	if err != nil {
		return fmt.Errorf("%v (see kiln %s -h)", err, c.name)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see kiln %s -h)", fs.Arg(0), c.name)
	}
	return nil
}
