module github.com/dogpile-go/dogpile/codec/compress

go 1.26.0

require (
	github.com/dogpile-go/dogpile v0.0.0
	github.com/klauspost/compress v1.20.4
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)

replace github.com/dogpile-go/dogpile => ../..
