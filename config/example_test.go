package config_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dogpile-go/dogpile"
	_ "github.com/dogpile-go/dogpile/backends/file" // registers the "file" backend the file names
	"github.com/dogpile-go/dogpile/config"
)

func Example() {
	dir, _ := os.MkdirTemp("", "dogpile-config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dogpile.toml")
	os.Setenv("CACHE_DIR", dir)
	os.WriteFile(path, []byte(`
[cache.local]
backend = "file"
expiration_time = "10m"
arguments.filename = "${CACHE_DIR}/cache.db"

[cache.hot]
backend = "memory"
expiration_time = 30
`), 0o600)

	cfg, err := config.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()

	ctx := context.Background()
	local := cfg.Regions["local"]
	v, err := dogpile.GetOrCreate(ctx, local, "greeting", func(context.Context) (string, error) {
		return "hello", nil
	})
	fmt.Println(v, err, local.Expiration(), cfg.File.Names())
	// Output: hello <nil> 10m0s [hot local]
}

func ExampleRead() {
	dir, _ := os.MkdirTemp("", "dogpile-config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dogpile.ini")
	os.WriteFile(path, []byte(`
[app:main]
cache.local.backend = memory
cache.local.expiraton_time = 600
`), 0o600)

	_, err := config.Read(path)
	fmt.Println(err.(*config.Error).Line, err.(*config.Error).Key)
	fmt.Println(err.(*config.Error).Msg)
	// Output:
	// 4 cache.local.expiraton_time
	// unknown key; did you mean cache.local.expiration_time?
}
