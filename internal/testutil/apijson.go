package testutil

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// APIResponse returns a JSON document of about size bytes (never less)
// shaped like a paginated REST answer: an array of user records whose field
// names repeat in every record while the values vary (ids, names, e-mail
// addresses, timestamps, scores), which is what large cached values usually
// are. The same size gives the same bytes every time, so measurements of how
// well it compresses can be compared between runs.
func APIResponse(size int) []byte {
	type address struct {
		Street  string `json:"street"`
		City    string `json:"city"`
		Zip     string `json:"zip"`
		Country string `json:"country"`
	}
	type user struct {
		ID        int64             `json:"id"`
		Name      string            `json:"name"`
		Email     string            `json:"email"`
		Active    bool              `json:"active"`
		Role      string            `json:"role"`
		Score     float64           `json:"score"`
		CreatedAt time.Time         `json:"created_at"`
		LastLogin time.Time         `json:"last_login"`
		Tags      []string          `json:"tags"`
		Address   address           `json:"address"`
		Settings  map[string]string `json:"settings"`
	}
	type page struct {
		Data       []user `json:"data"`
		Page       int    `json:"page"`
		PerPage    int    `json:"per_page"`
		Total      int    `json:"total"`
		NextCursor string `json:"next_cursor"`
	}
	first := []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Dennis", "Margaret", "Edsger", "Frances", "Donald", "Radia", "Guido"}
	last := []string{"Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Ritchie", "Hamilton", "Dijkstra", "Allen", "Knuth", "Perlman", "van Rossum"}
	cities := []string{"Berlin", "Lisbon", "Toronto", "Osaka", "Nairobi", "Lima", "Oslo", "Austin"}
	roles := []string{"admin", "editor", "viewer", "owner"}
	tags := []string{"beta", "newsletter", "premium", "trial", "verified", "mobile", "sso", "legacy"}
	themes := []string{"dark", "light", "system"}

	rng := rand.New(rand.NewPCG(17, uint64(size)))
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	p := page{Page: 1, NextCursor: fmt.Sprintf("%016x", rng.Uint64())}
	var out []byte
	for batch := 1; len(out) < size; {
		for range batch {
			id := int64(100000 + len(p.Data))
			f, l := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
			created := epoch.Add(time.Duration(rng.IntN(300*24*3600)) * time.Second)
			u := user{
				ID: id, Name: f + " " + l,
				Email:     fmt.Sprintf("%s.%s%d@example.com", f, l, rng.IntN(1000)),
				Active:    rng.IntN(4) != 0,
				Role:      roles[rng.IntN(len(roles))],
				Score:     float64(rng.IntN(100000)) / 100,
				CreatedAt: created,
				LastLogin: created.Add(time.Duration(rng.IntN(60*24*3600)) * time.Second),
				Address: address{
					Street:  fmt.Sprintf("%d %s Street", 1+rng.IntN(999), last[rng.IntN(len(last))]),
					City:    cities[rng.IntN(len(cities))],
					Zip:     fmt.Sprintf("%05d", rng.IntN(100000)),
					Country: "XX",
				},
				Settings: map[string]string{"theme": themes[rng.IntN(len(themes))], "locale": "en-US", "timezone": "UTC"},
			}
			for _, t := range tags {
				if rng.IntN(3) == 0 {
					u.Tags = append(u.Tags, t)
				}
			}
			p.Data = append(p.Data, u)
		}
		p.PerPage, p.Total = len(p.Data), 10*len(p.Data)
		var err error
		if out, err = json.Marshal(p); err != nil {
			panic(err) // the types above always marshal
		}
		// Add about half of the records still missing before marshalling
		// again, so that the document ends within a record of size.
		batch = max(1, (size-len(out))/(len(out)/len(p.Data))/2)
	}
	return out
}
