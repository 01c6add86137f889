package otel

import (
	"context"
	"fmt"
	"strings"

	"github.com/dogpile-go/dogpile"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName is the instrumentation scope of the spans and histograms this
// package makes.
const ScopeName = "github.com/dogpile-go/dogpile/metrics/otel"

// TracerOption configures NewTracer.
type TracerOption func(*tracer)

// WithKeys makes the spans carry the key they are about (dogpile.key), and
// failed spans the error's message. Off by default: keys may carry personal
// data (an e-mail address, a session), and errors quote them.
func WithKeys() TracerOption { return func(t *tracer) { t.keys = true } }

// NewTracer returns a dogpile.Tracer that starts its spans on tp (see the
// package documentation for their names and attributes), for
// dogpile.WithTracer. For a no-op provider (noop.TracerProvider) it returns
// nil: a region given nil traces nothing and pays nothing.
func NewTracer(tp trace.TracerProvider, opts ...TracerOption) dogpile.Tracer {
	if _, ok := tp.(noop.TracerProvider); ok || tp == nil {
		return nil
	}
	t := &tracer{tracer: tp.Tracer(ScopeName)}
	for _, o := range opts {
		o(t)
	}
	return t
}

type tracer struct {
	tracer trace.Tracer
	keys   bool
}

func (t *tracer) Start(ctx context.Context, name string, info dogpile.SpanInfo) (context.Context, dogpile.Span) {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attribute.String("dogpile.region", info.Region), attribute.String("dogpile.backend", info.Backend))
	if info.Keys > 1 || info.Key == "" && info.Keys > 0 {
		attrs = append(attrs, attribute.Int("dogpile.keys", info.Keys))
	}
	if info.Lock != "" {
		attrs = append(attrs, attribute.String("dogpile.lock", info.Lock))
	}
	if t.keys && info.Key != "" {
		attrs = append(attrs, attribute.String("dogpile.key", info.Key))
	}
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	if strings.HasPrefix(name, dogpile.SpanBackendPrefix) {
		opts = append(opts, trace.WithSpanKind(trace.SpanKindClient))
	}
	if !info.Start.IsZero() {
		opts = append(opts, trace.WithTimestamp(info.Start))
	}
	ctx, sp := t.tracer.Start(ctx, name, opts...)
	return ctx, span{sp, t.keys}
}

type span struct {
	span trace.Span
	keys bool
}

func (s span) End(outcome string, err error) {
	s.span.SetAttributes(attribute.String("dogpile.outcome", outcome))
	if outcome == dogpile.OutcomeError {
		desc := ""
		if err != nil {
			s.span.SetAttributes(attribute.String("error.type", fmt.Sprintf("%T", err)))
			if s.keys {
				desc = err.Error()
				s.span.RecordError(err)
			}
		}
		s.span.SetStatus(codes.Error, desc)
	}
	s.span.End()
}
