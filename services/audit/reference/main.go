// Command tlogcheck reads a Plimsoll audit log through its C2SP tlog-tiles API with the Go
// reference implementation (golang.org/x/mod/sumdb/note and sumdb/tlog) and checks it:
//
//	tlogcheck log -url URL -vkey KEY [-token T] [-index I ...] [-old N]
//	    verifies /checkpoint with the verifier key, reads tiles through tlog.TileHashReader
//	    (which checks every tile against the signed root), checks each entry's record hash
//	    against its level-0 tile, proves and checks inclusion of each index and consistency
//	    from size -old, and compares the log's own JSON proofs with tlog's, hash by hash.
//	tlogcheck sign -skey KEY < text
//	    prints note.Sign of the text: the Python signer must produce the same bytes.
//
// It prints one line per check and exits 1 on the first failure.
package main

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: tlogcheck log|sign ...")
	}
	switch os.Args[1] {
	case "sign":
		sign(os.Args[2:])
	case "log":
		check(os.Args[2:])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "FAIL:", msg)
	os.Exit(1)
}

func sign(args []string) {
	fs := flag.NewFlagSet("sign", flag.ExitOnError)
	skey := fs.String("skey", "", "signer key")
	fs.Parse(args)
	signer, err := note.NewSigner(*skey)
	if err != nil {
		fail("signer key: " + err.Error())
	}
	text, _ := io.ReadAll(os.Stdin)
	msg, err := note.Sign(&note.Note{Text: string(text)}, signer)
	if err != nil {
		fail("sign: " + err.Error())
	}
	os.Stdout.Write(msg)
}

type indices []int64

func (i *indices) String() string { return fmt.Sprint(*i) }
func (i *indices) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	*i = append(*i, n)
	return err
}

type client struct {
	base, token string
}

func (c client) get(path string) ([]byte, int) {
	req, _ := http.NewRequest("GET", strings.TrimRight(c.base, "/")+"/"+path, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail("GET " + path + ": " + err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return body, resp.StatusCode
}

// c2spPath is a tile's C2SP path: no height element, "entries" for data tiles.
func c2spPath(t tlog.Tile) string {
	kind := strconv.Itoa(t.L)
	if t.L == -1 {
		kind = "entries"
	}
	// tlog's own path is tile/<H>/<L>/<N>[.p/<W>]; drop the height to get C2SP's.
	parts := strings.SplitN(t.Path(), "/", 4)
	return "tile/" + kind + "/" + parts[3]
}

type tileReader struct {
	c client
}

func (r tileReader) Height() int { return 8 }
func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {}
func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		body, status := r.c.get(c2spPath(t))
		if status != 200 {
			return nil, fmt.Errorf("GET %s: HTTP %d: %s", c2spPath(t), status, body)
		}
		out[i] = body
	}
	return out, nil
}

type proofJSON struct {
	Index  int64    `json:"index"`
	Size   int64    `json:"tree_size"`
	First  int64    `json:"first"`
	Second int64    `json:"second"`
	Hashes []string `json:"hashes"`
	Leaf   string   `json:"leaf_hash"`
}

func hashes(p proofJSON) []tlog.Hash {
	out := make([]tlog.Hash, len(p.Hashes))
	for i, h := range p.Hashes {
		raw, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(raw) != 32 {
			fail("a proof hash is not base64 of 32 bytes")
		}
		copy(out[i][:], raw)
	}
	return out
}

func same(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func check(args []string) {
	fs := flag.NewFlagSet("log", flag.ExitOnError)
	base := fs.String("url", "", "the audit service's base URL")
	vkey := fs.String("vkey", "", "the log's verifier key")
	token := fs.String("token", os.Getenv("PLIMSOLL_TOKEN"), "bearer token, if the routes need one")
	old := fs.Int64("old", 0, "an earlier tree size to prove consistency from")
	var idx indices
	fs.Var(&idx, "index", "an entry to prove (repeatable)")
	fs.Parse(args)
	c := client{*base, *token}

	verifier, err := note.NewVerifier(*vkey)
	if err != nil {
		fail("verifier key: " + err.Error())
	}
	body, status := c.get("checkpoint")
	if status != 200 {
		fail(fmt.Sprintf("GET checkpoint: HTTP %d", status))
	}
	n, err := note.Open(body, note.VerifierList(verifier))
	if err != nil {
		fail("checkpoint signature: " + err.Error())
	}
	lines := strings.Split(n.Text, "\n")
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: " + err.Error())
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root: " + err.Error())
	}
	fmt.Printf("ok checkpoint %s size %d signed by %s\n", lines[0], size, verifier.Name())

	tree := tlog.Tree{N: size, Hash: root}
	reader := tileReader{c}
	hr := tlog.TileHashReader(tree, reader)
	got, err := tlog.TreeHash(size, hr)
	if err != nil || got != root {
		fail(fmt.Sprintf("tree hash from tiles: %v %v", got, err))
	}
	fmt.Println("ok tiles rebuild the signed root")

	for _, i := range idx {
		bundleTile := tlog.TileForIndex(8, tlog.StoredHashIndex(0, i))
		bundleTile.L = -1
		data, status := c.get(c2spPath(bundleTile))
		if status != 200 {
			fail(fmt.Sprintf("GET %s: HTTP %d", c2spPath(bundleTile), status))
		}
		entry := entryAt(data, int(i-bundleTile.N*256))
		leaf := tlog.RecordHash(entry)
		stored, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, i)})
		if err != nil || stored[0] != leaf {
			fail(fmt.Sprintf("entry %d does not hash to its level-0 tile hash: %v", i, err))
		}
		proof, err := tlog.ProveRecord(size, i, hr)
		if err != nil {
			fail("ProveRecord: " + err.Error())
		}
		if err := tlog.CheckRecord(proof, size, root, i, leaf); err != nil {
			fail("CheckRecord: " + err.Error())
		}
		body, status = c.get(fmt.Sprintf("proofs/inclusion?index=%d&size=%d", i, size))
		var ours proofJSON
		if status != 200 || json.Unmarshal(body, &ours) != nil {
			fail(fmt.Sprintf("GET inclusion proof %d: HTTP %d %s", i, status, body))
		}
		if !same(hashes(ours), proof) {
			fail(fmt.Sprintf("the log's inclusion proof of %d differs from tlog's", i))
		}
		if err := tlog.CheckRecord(hashes(ours), size, root, i, leaf); err != nil {
			fail("CheckRecord of the log's proof: " + err.Error())
		}
		fmt.Printf("ok entry %d: record hash, inclusion proof (tlog's and the log's, equal)\n", i)
	}

	if *old > 0 {
		oldHash, err := tlog.TreeHash(*old, hr)
		if err != nil {
			fail("TreeHash(old): " + err.Error())
		}
		proof, err := tlog.ProveTree(size, *old, hr)
		if err != nil {
			fail("ProveTree: " + err.Error())
		}
		body, status := c.get(fmt.Sprintf("proofs/consistency?first=%d&second=%d", *old, size))
		var ours proofJSON
		if status != 200 || json.Unmarshal(body, &ours) != nil {
			fail(fmt.Sprintf("GET consistency proof: HTTP %d %s", status, body))
		}
		if !same(hashes(ours), proof) {
			fail("the log's consistency proof differs from tlog's")
		}
		if err := tlog.CheckTree(hashes(ours), size, root, *old, oldHash); err != nil {
			fail("CheckTree of the log's proof: " + err.Error())
		}
		fmt.Printf("ok consistency %d -> %d (tlog's and the log's, equal)\n", *old, size)
	}
	fmt.Println("PASS")
}

func entryAt(bundle []byte, k int) []byte {
	at := 0
	for i := 0; ; i++ {
		if at+2 > len(bundle) {
			fail(fmt.Sprintf("entry bundle ends before entry %d", k))
		}
		n := int(bundle[at])<<8 | int(bundle[at+1])
		at += 2
		if at+n > len(bundle) {
			fail("entry bundle ends inside an entry")
		}
		if i == k {
			return bundle[at : at+n]
		}
		at += n
	}
}
