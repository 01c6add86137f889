// Package tmpltest holds what the tests of package tmplcache share: the two
// template packages a Cache binds, to run every behaviour on both.
package tmpltest

import (
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"

	"github.com/dogpile-go/dogpile/tmplcache"
)

// Executor is what both packages' *Template do.
type Executor interface {
	Execute(w io.Writer, data any) error
}

// Engine is a template package: its name in fragment keys and markers
// ("html" or "text"), and how to parse a set named "page", bound to a Cache
// with funcs, from src.
type Engine struct {
	Name  string
	Parse func(c *tmplcache.Cache, funcs map[string]any, src string) (Executor, error)
}

// Engines are html/template and text/template, in that order.
var Engines = []Engine{
	{Name: "html", Parse: func(c *tmplcache.Cache, funcs map[string]any, src string) (Executor, error) {
		return asExecutor(c.BindHTML(htmltemplate.New("page").Funcs(funcs)).Parse(src))
	}},
	{Name: "text", Parse: func(c *tmplcache.Cache, funcs map[string]any, src string) (Executor, error) {
		return asExecutor(c.BindText(texttemplate.New("page").Funcs(funcs)).Parse(src))
	}},
}

// asExecutor keeps a nil template from becoming a non-nil Executor.
func asExecutor[T Executor](t T, err error) (Executor, error) {
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Try executes p with data and returns what it wrote.
func Try(p Executor, data any) (string, error) {
	var b strings.Builder
	err := p.Execute(&b, data)
	return b.String(), err
}

// HTML and Text are Engines' two, for tests of one of them.
var HTML, Text = Engines[0], Engines[1]
