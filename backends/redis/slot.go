package redis

import (
	"strings"
	"sync"
)

// Slot returns the Redis Cluster hash slot (0–16383) of key: CRC16 (XMODEM)
// of the key's hash tag — the part between the first "{" and the next "}",
// when that is not empty — or of the whole key, modulo 16384.
func Slot(key string) uint16 {
	if tag, ok := hashTag(key); ok {
		key = tag
	}
	return crc16(key) & 16383
}

// hashTag returns the key's hash tag, as Redis Cluster finds it, and whether
// the key has one.
func hashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return "", false
	}
	return key[i+1 : i+1+j], true
}

// lockTag returns the hash tag a lock key carries so that it hashes to the
// slot of the value key — and, with the key's own tag or the key itself as
// the tag, to the same shard of a client that shards by hash tag (a Ring).
// A key without a tag that contains "}" (or the empty key) cannot be its own
// tag: it gets a short tag of the same slot instead.
func lockTag(key string) string {
	if tag, ok := hashTag(key); ok {
		return tag
	}
	if key != "" && strings.IndexByte(key, '}') < 0 {
		return key
	}
	return slotTag(crc16(key) & 16383)
}

// slotTags holds, for every slot, a tag of one to three letters and digits
// that hashes to it; built on first use (about 73,000 CRCs, well under a
// millisecond), as only keys that can't be their own tag need it.
var slotTags struct {
	once sync.Once
	tags [16384]string
}

func slotTag(slot uint16) string {
	slotTags.once.Do(func() {
		const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		left := len(slotTags.tags)
		var b [3]byte
		for n := 1; n <= len(b) && left > 0; n++ {
			total := 1
			for range n {
				total *= len(alphabet)
			}
			for i := 0; i < total && left > 0; i++ {
				for j, x := n-1, i; j >= 0; j-- {
					b[j] = alphabet[x%len(alphabet)]
					x /= len(alphabet)
				}
				s := crc16(string(b[:n])) & 16383
				if slotTags.tags[s] == "" {
					slotTags.tags[s] = string(b[:n])
					left--
				}
			}
		}
	})
	return slotTags.tags[slot]
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(s string) uint16 {
	var c uint16
	for i := 0; i < len(s); i++ {
		c = c<<8 ^ crcTable[byte(c>>8)^s[i]]
	}
	return c
}
