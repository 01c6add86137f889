package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/backends/file"
)

// configFlags choose the region a command works on.
type configFlags struct {
	backend string
	args    argList
}

type argList []string

func (a *argList) String() string     { return strings.Join(*a, ",") }
func (a *argList) Set(s string) error { *a = append(*a, s); return nil }

func addConfigFlags(fs *flag.FlagSet) *configFlags {
	c := &configFlags{}
	fs.StringVar(&c.backend, "backend", "", "backend name (default: the embedded file store)")
	fs.Var(&c.args, "arg", "backend argument `name=value` (repeatable)")
	return c
}

// region returns the configured region and a description of where it is.
func (c *configFlags) region(context.Context) (*dogpile.Region, string, error) {
	args := dogpile.Args{}
	for _, kv := range c.args {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, "", usageErrorf("-arg %q: want name=value", kv)
		}
		args[k] = v
	}
	name := c.backend
	if name == "" {
		name = defaultBackend
		if _, set := args["filename"]; !set && name == "file" {
			path, err := file.DefaultPath()
			if err != nil {
				return nil, "", err
			}
			args["filename"] = path
		}
	}
	r, err := dogpile.NewRegion(dogpile.WithName("cli")).Configure(name, dogpile.WithArguments(args))
	if err != nil {
		if errors.Is(err, dogpile.ErrUnknownBackend) || errors.Is(err, dogpile.ErrInvalidArgument) {
			return nil, "", &usageError{err.Error()}
		}
		return nil, "", err
	}
	where := name
	if f, ok := args["filename"]; ok {
		where = fmt.Sprintf("%s (%v)", name, f)
	}
	return r, where, nil
}

// defaultBackend is the embedded store that needs no server.
const defaultBackend = "file"
