package file_test

// Tests with several processes: the test binary runs itself again as a child
// playing a role (internal/testutil), and parent and children talk over the
// children's stdin and stdout, one word per line, so that every step waits
// for an event rather than for time to pass.

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/internal/testutil"
)

// wait bounds each step a test waits for a child to take.
const wait = 30 * time.Second

func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() error{
		"rw":       childReadWrite,
		"stampede": childStampede,
		"writer":   childWriter,
		"reader":   childReader,
		"locker":   childLocker,
		"holder":   childHolder,
		"waiter":   childWaiter,
		"swapper":  childSwapper,
		"cold":     childColdStampede,
	})
}

// say writes one line to the parent; goroutines of a child share stdout.
var sayMu sync.Mutex

func say(format string, args ...any) {
	sayMu.Lock()
	defer sayMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// expectLine waits for the parent to send want.
func expectLine(want string) error {
	line, err := testutil.ReadLine()
	if err != nil {
		return fmt.Errorf("stdin: %w while waiting for %q", err, want)
	}
	if line != want {
		return fmt.Errorf("got %q from the parent, want %q", line, want)
	}
	return nil
}

// ready tells the parent the child is ready and waits for its "go".
func ready() error {
	say("ready")
	return expectLine("go")
}

// exitedOK fails the test unless c exits cleanly.
func exitedOK(t testing.TB, c *testutil.Child) {
	t.Helper()
	if err := c.Wait(wait); err != nil {
		t.Fatalf("child failed: %v (its stderr is in the log above)", err)
	}
}
