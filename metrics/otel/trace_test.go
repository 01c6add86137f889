package otel_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile"
	dogpileotel "github.com/dogpile-go/dogpile/metrics/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracedRegion is a region on memory_serialized (a byte backend, whose calls
// are traced) whose spans go to the returned recorder.
func tracedRegion(t *testing.T, opts ...dogpileotel.TracerOption) (*dogpile.Region, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) }) //nolint:errcheck
	r, err := dogpile.NewRegion(dogpile.WithName("users"), dogpile.WithTracer(dogpileotel.NewTracer(tp, opts...))).
		Configure("memory_serialized", dogpile.WithExpiration(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return r, rec
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

func byName(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// Spans for a miss and a hit: names, region, backend and outcome
// attributes, the creation and backend calls children of the call, no key
// value and no key count on spans about one key, kind client for the
// backend calls only, and this package's instrumentation scope.
func TestTracerRecordsSpans(t *testing.T) {
	ctx := context.Background()
	r, rec := tracedRegion(t)
	for range 2 {
		if _, err := dogpile.GetOrCreate(ctx, r, "user:42", func(context.Context) (string, error) { return "Ada", nil }); err != nil {
			t.Fatal(err)
		}
	}
	spans := rec.Ended()
	calls := byName(spans, dogpile.SpanGetOrCreate)
	if len(calls) != 2 {
		t.Fatalf("%d get_or_create spans, want 2", len(calls))
	}
	var outcomes []string
	for _, s := range spans {
		a := attrs(s)
		if a["dogpile.region"].AsString() != "users" || a["dogpile.backend"].AsString() != "memory_serialized" {
			t.Fatalf("span %s: attributes %v", s.Name(), a)
		}
		if _, ok := a["dogpile.key"]; ok {
			t.Fatalf("span %s carries the key without WithKeys", s.Name())
		}
		if _, ok := a["dogpile.keys"]; ok {
			t.Fatalf("span %s, about one key, carries dogpile.keys", s.Name())
		}
		if s.InstrumentationScope().Name != dogpileotel.ScopeName {
			t.Fatalf("span %s has the instrumentation scope %q, want %q", s.Name(), s.InstrumentationScope().Name, dogpileotel.ScopeName)
		}
		if k := s.SpanKind(); (k == trace.SpanKindClient) != strings.HasPrefix(s.Name(), dogpile.SpanBackendPrefix) {
			t.Fatalf("span %s is of kind %v; only backend calls are of kind client", s.Name(), k)
		}
		if s.Name() == dogpile.SpanGetOrCreate {
			outcomes = append(outcomes, a["dogpile.outcome"].AsString())
			continue
		}
		if s.Parent().SpanID() != calls[0].SpanContext().SpanID() && s.Parent().SpanID() != calls[1].SpanContext().SpanID() {
			t.Fatalf("span %s is no child of a get_or_create span", s.Name())
		}
	}
	if !slices.Equal(outcomes, []string{dogpile.OutcomeMiss, dogpile.OutcomeHit}) {
		t.Fatalf("outcomes %q, want miss then hit", outcomes)
	}
	if c := byName(spans, dogpile.SpanCreate); len(c) != 1 || attrs(c[0])["dogpile.outcome"].AsString() != dogpile.OutcomeOK {
		t.Fatalf("create spans %v", c)
	}
	gets := byName(spans, dogpile.SpanBackendPrefix+"get")
	if len(gets) == 0 || gets[0].SpanKind() != trace.SpanKindClient {
		t.Fatalf("backend get spans %v, want of kind client", gets)
	}
	if len(byName(spans, dogpile.SpanBackendPrefix+"set")) != 1 {
		t.Fatal("no backend set span")
	}
}

// WithKeys adds the key, and a failed span's error message.
func TestTracerWithKeys(t *testing.T) {
	ctx := context.Background()
	r, rec := tracedRegion(t, dogpileotel.WithKeys())
	boom := errors.New("boom")
	dogpile.GetOrCreate(ctx, r, "user:42", func(context.Context) (string, error) { return "", boom }) //nolint:errcheck
	calls := byName(rec.Ended(), dogpile.SpanGetOrCreate)
	if len(calls) != 1 {
		t.Fatalf("%d spans", len(calls))
	}
	a := attrs(calls[0])
	if a["dogpile.key"].AsString() != "user:42" || a["dogpile.outcome"].AsString() != dogpile.OutcomeError {
		t.Fatalf("attributes %v", a)
	}
	if st := calls[0].Status(); st.Code != codes.Error || st.Description != "boom" || a["error.type"].AsString() != "*errors.errorString" {
		t.Fatalf("status %+v, attributes %v", st, a)
	}
}

// Without WithKeys a failed span has no error message: it may quote keys.
func TestTracerErrorWithoutKeys(t *testing.T) {
	ctx := context.Background()
	r, rec := tracedRegion(t)
	dogpile.GetOrCreate(ctx, r, "user:42", func(context.Context) (string, error) { return "", errors.New("no user:42") }) //nolint:errcheck
	for _, s := range rec.Ended() {
		if s.Status().Description != "" || len(s.Events()) != 0 {
			t.Fatalf("span %s: status %+v, events %v", s.Name(), s.Status(), s.Events())
		}
	}
	calls := byName(rec.Ended(), dogpile.SpanGetOrCreate)
	if len(calls) != 1 {
		t.Fatalf("%d get_or_create spans", len(calls))
	}
	if st, a := calls[0].Status(), attrs(calls[0]); st.Code != codes.Error || a["error.type"].AsString() != "*errors.errorString" {
		t.Fatalf("the failed call's span: status %+v, attributes %v; want status Error and error.type", st, a)
	}
}

// A span ended with the error outcome has the Error status, with or without
// an error to name; one ended otherwise has neither the status nor
// error.type, even beside an error.
func TestTracerStatusFollowsOutcome(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck
	tr := dogpileotel.NewTracer(tp)
	for _, c := range []struct {
		outcome string
		err     error
		failed  bool
	}{
		{dogpile.OutcomeError, nil, true},
		{dogpile.OutcomeNotFound, dogpile.ErrNotFound, false},
		{dogpile.OutcomeOK, nil, false},
	} {
		rec.Reset()
		_, sp := tr.Start(context.Background(), dogpile.SpanCreate, dogpile.SpanInfo{Region: "r"})
		sp.End(c.outcome, c.err)
		s := rec.Ended()[0]
		_, typed := attrs(s)["error.type"]
		if got := s.Status().Code == codes.Error; got != c.failed || typed && c.err == nil || typed && !c.failed {
			t.Errorf("ended %s with %v: status %+v, attributes %v", c.outcome, c.err, s.Status(), attrs(s))
		}
	}
}

// A GetOrCreateMulti span carries the number of its keys, one included (it
// names no key).
func TestTracerMultiKeyCount(t *testing.T) {
	ctx := context.Background()
	r, rec := tracedRegion(t)
	for _, keys := range [][]string{{"a", "b", "c"}, {"d"}} {
		rec.Reset()
		if _, err := dogpile.GetOrCreateMulti(ctx, r, keys, func(_ context.Context, keys []string) ([]string, error) {
			return keys, nil
		}); err != nil {
			t.Fatal(err)
		}
		multi := byName(rec.Ended(), dogpile.SpanGetOrCreateMulti)
		if len(multi) != 1 || attrs(multi[0])["dogpile.keys"].AsInt64() != int64(len(keys)) {
			t.Fatalf("get_or_create_multi of %d keys: spans %v", len(keys), multi)
		}
	}
}

// A span the region reports after the fact (a lock wait) begins at the
// time it gives, and names the kind of lock it waited for.
func TestTracerSpanStartTime(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck
	began := time.Now().Add(-time.Second)
	for _, lock := range []string{dogpile.LockDistributed, dogpile.LockLocal} {
		rec.Reset()
		_, sp := dogpileotel.NewTracer(tp).Start(context.Background(), dogpile.SpanLockWait, dogpile.SpanInfo{Region: "r", Lock: lock, Start: began})
		sp.End(dogpile.OutcomeOK, nil)
		spans := rec.Ended()
		if len(spans) != 1 || !spans[0].StartTime().Equal(began) || attrs(spans[0])["dogpile.lock"].AsString() != lock {
			t.Fatalf("spans %v", spans)
		}
	}
}

// A no-op or nil provider gives a nil tracer, which traces nothing.
func TestNewTracerNoop(t *testing.T) {
	if tr := dogpileotel.NewTracer(noop.NewTracerProvider()); tr != nil {
		t.Fatalf("a no-op provider gave %T, want nil", tr)
	}
	if tr := dogpileotel.NewTracer(nil); tr != nil {
		t.Fatalf("a nil provider gave %T, want nil", tr)
	}
}
