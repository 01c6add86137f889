package reliability_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dogpile-go/dogpile/internal/testutil"
	"go.uber.org/goleak"
)

// TestMain runs the tests, prints the fault table of the RL1 tests that ran,
// and fails if goroutines outlive the tests. Ignored, because they are not
// leaks:
//
//   - dogpile.runCoarseClock: the core's coarse clock (clock.go), process-wide
//     and started on first use; it stops by itself after a second unused,
//     which may be after the last test.
func TestMain(m *testing.M) {
	code := m.Run()
	printFaultTable()
	if code == 0 {
		if err := goleak.Find(testutil.LeakOptions()...); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// faultRow is one line of the RL1 table.
type faultRow struct {
	backend, fault                string
	strict, failOpen              string // what a call got during the fault, and how fast
	recoverStrict, recoverFailOpn string // time from the fault's end to the first good call
}

var faultTable struct {
	sync.Mutex
	rows []faultRow
}

func recordFault(r faultRow) {
	faultTable.Lock()
	defer faultTable.Unlock()
	faultTable.rows = append(faultTable.rows, r)
}

func printFaultTable() {
	faultTable.Lock()
	defer faultTable.Unlock()
	if len(faultTable.rows) == 0 {
		return
	}
	rows := faultTable.rows
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].backend != rows[j].backend {
			return rows[i].backend > rows[j].backend // redis first
		}
		return rows[i].fault < rows[j].fault
	})
	var b strings.Builder
	fmt.Fprintln(&b, "RL1 fault table (time to error measured from the first call in the fault; time to recover from the fault's end):")
	fmt.Fprintln(&b, "| backend | fault | default region during the fault | WithFailOpen region during the fault | recovered (default) | recovered (fail-open) |")
	fmt.Fprintln(&b, "|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.backend, r.fault, r.strict, r.failOpen, r.recoverStrict, r.recoverFailOpn)
	}
	fmt.Print(b.String())
}
