// Package startgate runs goroutines that begin at the same moment: the
// stampede that the dogpile command's demo shows and that tests and
// benchmarks make, with every goroutine started before any call begins, so
// that what is measured is the calls, not the starting of goroutines.
package startgate

import "sync"

// Gate holds goroutines, each started and waiting to make its call.
type Gate struct {
	open chan struct{}
	done sync.WaitGroup
}

// New starts n goroutines that each call f with its index (0 to n-1) once
// the gate opens. It returns when all of them are waiting.
func New(n int, f func(i int)) *Gate {
	g := &Gate{open: make(chan struct{})}
	var ready sync.WaitGroup
	ready.Add(n)
	g.done.Add(n)
	for i := range n {
		go func() {
			defer g.done.Done()
			ready.Done()
			<-g.open
			f(i)
		}()
	}
	ready.Wait()
	return g
}

// Open lets the goroutines make their calls and returns when every call
// has returned. A gate opens once.
func (g *Gate) Open() {
	close(g.open)
	g.done.Wait()
}

// Run is New(n, f).Open(): n calls of f, begun together.
func Run(n int, f func(i int)) {
	New(n, f).Open()
}
