module github.com/dogpile-go/dogpile/config

go 1.26.0

require github.com/dogpile-go/dogpile v0.0.0

replace github.com/dogpile-go/dogpile => ..

require (
	github.com/pelletier/go-toml/v2 v2.4.3
	go.yaml.in/yaml/v3 v3.0.6
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/puzpuzpuz/xsync/v4 v4.5.0 // indirect
)
