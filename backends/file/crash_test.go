package file_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dogpile-go/dogpile/backends/file"
	"github.com/dogpile-go/dogpile/internal/testutil"
)

// ---- FB3: a writer killed mid-write never corrupts the store ----

const (
	seqEnv     = "DOGPILE_FILE_TEST_SEQ"
	boundedEnv = "DOGPILE_FILE_TEST_BOUNDED"
	acksEnv    = "DOGPILE_FILE_TEST_ACKS"

	crashSingles = 32 // keys k0…k31, written one at a time
	crashBatch   = 8  // keys b0…b7, always written together
	crashMaxSize = 256 << 10
)

// crashOp is the writer's operation number seq, the same in parent and child
// so that the parent knows what the operation in flight at the kill was.
type crashOp struct {
	seq  int
	kind string // "set", "set_multi", "delete", "delete_multi"
	keys []string
	size int // value size for sets
}

func opFor(seq int) crashOp {
	r := rand.New(rand.NewPCG(uint64(seq), 42))
	single := func() string { return "k" + strconv.Itoa(r.IntN(crashSingles)) }
	op := crashOp{seq: seq, size: r.IntN(64 << 10)}
	switch n := r.IntN(10); {
	case n < 6:
		op.kind, op.keys = "set", []string{single()}
	case n < 8:
		op.kind = "set_multi"
		for i := range crashBatch {
			op.keys = append(op.keys, "b"+strconv.Itoa(i))
		}
	case n < 9:
		op.kind, op.keys = "delete", []string{single()}
	default:
		op.kind, op.keys = "delete_multi", []string{single(), single(), single()}
	}
	return op
}

// apply applies op to a model of the store: key → seq of its value.
func (op crashOp) apply(m map[string]int) {
	for _, k := range op.keys {
		if strings.HasPrefix(op.kind, "set") {
			m[k] = op.seq
		} else {
			delete(m, k)
		}
	}
}

func (op crashOp) run(ctx context.Context, b *file.Backend) error {
	switch op.kind {
	case "set":
		return b.Set(ctx, op.keys[0], crashValue(op.keys[0], op.seq, op.size))
	case "set_multi":
		items := map[string][]byte{}
		for _, k := range op.keys {
			items[k] = crashValue(k, op.seq, op.size)
		}
		return b.SetMulti(ctx, items)
	case "delete":
		return b.Delete(ctx, op.keys[0])
	default:
		return b.DeleteMulti(ctx, op.keys)
	}
}

// crashValue is key and seq, size bytes of filler, and a CRC-32 of all that:
// a torn or misplaced value fails parseCrashValue.
func crashValue(key string, seq, size int) []byte {
	v := fmt.Appendf(nil, "%s|%d|", key, seq)
	v = append(v, bytes.Repeat([]byte{byte(seq)}, size)...)
	return binary.BigEndian.AppendUint32(v, crc32.ChecksumIEEE(v))
}

func parseCrashValue(key string, v []byte) (int, error) {
	if len(v) < 4 || crc32.ChecksumIEEE(v[:len(v)-4]) != binary.BigEndian.Uint32(v[len(v)-4:]) {
		return 0, fmt.Errorf("value of %q (%d bytes) fails its checksum", key, len(v))
	}
	parts := bytes.SplitN(v, []byte("|"), 3)
	if len(parts) != 3 || string(parts[0]) != key {
		return 0, fmt.Errorf("value of %q belongs to %q", key, parts[0])
	}
	return strconv.Atoi(string(parts[1]))
}

func crashKeys() []string {
	var keys []string
	for i := range crashSingles {
		keys = append(keys, "k"+strconv.Itoa(i))
	}
	for i := range crashBatch {
		keys = append(keys, "b"+strconv.Itoa(i))
	}
	return keys
}

// childWriter runs operations from seq on until it is killed, saying each
// one's number once it is committed, on stdout and in the acknowledgements
// file: what it said just before the kill may never reach the parent's end
// of the pipe, what it wrote to the file is there.
func childWriter() error {
	seq, err := strconv.Atoi(os.Getenv(seqEnv))
	if err != nil {
		return err
	}
	o := file.Options{Filename: os.Getenv(dbEnv), DistributedLock: true}
	if os.Getenv(boundedEnv) != "" {
		o.MaxSize = crashMaxSize // cleanups and vacuums run all along
	}
	b, err := file.New(o)
	if err != nil {
		return err
	}
	acks, err := os.OpenFile(os.Getenv(acksEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	ctx := context.Background()
	for ; ; seq++ {
		if err := opFor(seq).run(ctx, b); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(acks, "%d\n", seq); err != nil {
			return err
		}
		say("%d", seq)
	}
}

// lastAck is the last operation the killed writer acknowledged in the file
// acks, or -1.
func lastAck(t *testing.T, acks string) int {
	t.Helper()
	data, err := os.ReadFile(acks)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return -1
	}
	n, err := strconv.Atoi(lines[len(lines)-1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readStore checks the file as SQLite sees it, then opens it as a cache and
// returns what it holds: key → seq.
func readStore(t *testing.T, db string) map[string]int {
	t.Helper()
	raw, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	err = raw.QueryRow(`PRAGMA integrity_check`).Scan(&check)
	raw.Close()
	if err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	b, err := file.New(file.Options{Filename: db, DistributedLock: true})
	if err != nil {
		t.Fatalf("the store does not open after the kill: %v", err)
	}
	defer b.Close()
	keys := crashKeys()
	vs, err := b.GetMulti(context.Background(), keys)
	if err != nil {
		t.Fatalf("the store does not read after the kill: %v", err)
	}
	got := map[string]int{}
	for i, v := range vs {
		if v == nil {
			continue
		}
		seq, err := parseCrashValue(keys[i], v)
		if err != nil {
			t.Fatal(err)
		}
		got[keys[i]] = seq
	}
	return got
}

// TestFB3KilledWriterNeverCorrupts kills a writer process with SIGKILL at a
// random point of its write loop (after 1 to 40 committed operations), 24
// times over one file. Every time the file passes SQLite's integrity check,
// opens as a cache and reads whole values. In two of three rounds the content
// is checked exactly: it is what the committed operations made, plus at most
// the operation in flight at the kill, applied entirely (a batch of 8 keys is
// never half-written). Every third round runs with max_size, so that kills
// also land in evictions and vacuums; then the batch keys, written together,
// must still agree.
func TestFB3KilledWriterNeverCorrupts(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "crash.db")
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	model := map[string]int{}
	seq := 0
	const kills = 24
	for round := range kills {
		bounded := round%3 == 2
		acks := filepath.Join(dir, fmt.Sprintf("acks-%d", round))
		env := []string{dbEnv + "=" + db, seqEnv + "=" + strconv.Itoa(seq), acksEnv + "=" + acks}
		if bounded {
			env = append(env, boundedEnv+"=1")
		}
		w := testutil.StartChild(t, "writer", env...)
		for range 1 + rnd.IntN(40) {
			if _, err := strconv.Atoi(w.Next(wait)); err != nil {
				t.Fatal(err)
			}
		}
		w.Kill()
		last := max(seq-1, lastAck(t, acks))
		for seq <= last {
			opFor(seq).apply(model)
			seq++
		}
		got := readStore(t, db)
		if bounded {
			for k, s := range got {
				if s > seq {
					t.Fatalf("round %d: %q holds operation %d, which never started", round, k, s)
				}
			}
		} else {
			withNext := maps.Clone(model)
			opFor(seq).apply(withNext)
			if !maps.Equal(got, model) && !maps.Equal(got, withNext) {
				t.Fatalf("round %d (killed after operation %d, %s in flight):\nstore     %v\ncommitted %v\nor        %v", round, last, opFor(seq).kind, got, model, withNext)
			}
		}
		batch := -1
		for i := range crashBatch {
			if s, ok := got["b"+strconv.Itoa(i)]; ok {
				if batch >= 0 && s != batch {
					t.Fatalf("round %d: batch keys hold different operations %d and %d: a batch was half-written", round, batch, s)
				}
				batch = s
			}
		}
		model = got
		seq++ // the operation in flight is settled either way
	}
}
