package config_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/dogpile-go/dogpile"
	"github.com/dogpile-go/dogpile/config"
)

func Example() {
	dir, _ := os.MkdirTemp("", "dogpile-config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "dogpile.toml")
	os.Setenv("CACHE_ENTRIES", "10000")
	os.WriteFile(path, []byte(`
[cache.local]
backend = "memory"
expiration_time = "10m"
arguments.max_entries = "${CACHE_ENTRIES}"

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

// A region from a file, by name: Region's error lists the regions there are.
func ExampleConfig_Region() {
	dir, _ := os.MkdirTemp("", "dogpile-config-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "cache.toml")
	os.WriteFile(path, []byte(`
[cache.users]
backend = "memory"
expiration_time = "10m"
codec = "json"
`), 0o600)

	cfg, err := config.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	users, err := cfg.Region("users")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(users.Name(), users.Expiration())
	_, err = cfg.Region("sessions")
	fmt.Println(err != nil)
	// Output:
	// users 10m0s
	// true
}
