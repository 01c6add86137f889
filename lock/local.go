package lock

import (
	"context"
	"sync"
)

// Local hands out in-process mutexes by key: the [Mutex] to use with a [Lock]
// when there is no store-provided one, and a reference implementation of the
// interface. The zero Local is ready to use.
type Local struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// Mutex returns a would-be holder of the key's lock.
func (l *Local) Mutex(key string) Mutex { return &localMutex{l: l, key: key} }

type localMutex struct {
	l    *Local
	key  string
	held chan struct{} // non-nil while this holder has the lock
}

// try takes the lock if free; otherwise it returns the channel that closes
// when the current holder releases it.
func (m *localMutex) try() (ok bool, released <-chan struct{}) {
	m.l.mu.Lock()
	defer m.l.mu.Unlock()
	if ch, busy := m.l.held[m.key]; busy {
		return false, ch
	}
	if m.l.held == nil {
		m.l.held = make(map[string]chan struct{})
	}
	m.held = make(chan struct{})
	m.l.held[m.key] = m.held
	return true, nil
}

func (m *localMutex) TryLock(context.Context) (bool, error) {
	ok, _ := m.try()
	return ok, nil
}

func (m *localMutex) Lock(ctx context.Context) error {
	for {
		ok, released := m.try()
		if ok {
			return nil
		}
		select {
		case <-released:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *localMutex) Unlock(context.Context) error {
	if m.held == nil {
		return nil
	}
	m.l.mu.Lock()
	if m.l.held[m.key] == m.held {
		delete(m.l.held, m.key)
	}
	m.l.mu.Unlock()
	close(m.held)
	m.held = nil
	return nil
}

// Locked reports whether any holder has the key's lock: a Local mutex is a
// Prober.
func (m *localMutex) Locked(context.Context) (bool, error) {
	m.l.mu.Lock()
	defer m.l.mu.Unlock()
	_, held := m.l.held[m.key]
	return held, nil
}
