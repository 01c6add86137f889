package otel_test

import (
	"context"
	"errors"
	"slices"
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
// value.
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
}

// A span the region reports after the fact (a lock wait) begins at the
// time it gives.
func TestTracerSpanStartTime(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background()) //nolint:errcheck
	began := time.Now().Add(-time.Second)
	_, sp := dogpileotel.NewTracer(tp).Start(context.Background(), dogpile.SpanLockWait, dogpile.SpanInfo{Region: "r", Lock: dogpile.LockDistributed, Start: began})
	sp.End(dogpile.OutcomeOK, nil)
	spans := rec.Ended()
	if len(spans) != 1 || !spans[0].StartTime().Equal(began) || attrs(spans[0])["dogpile.lock"].AsString() != dogpile.LockDistributed {
		t.Fatalf("spans %v", spans)
	}
}

func TestNewTracerNoop(t *testing.T) {
	if tr := dogpileotel.NewTracer(noop.NewTracerProvider()); tr != nil {
		t.Fatalf("a no-op provider gave %T, want nil", tr)
	}
}
