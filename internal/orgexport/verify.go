package orgexport

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// MaxLine bounds a line of a document Verify reads: a row.
const MaxLine = 16 << 20

// Header is what a document says of itself.
type Header struct {
	Format  string    `json:"format"`
	Org     string    `json:"org"`
	Created time.Time `json:"created"`
}

// ErrMismatch means a document's rows do not match its manifest: a part
// was changed, cut or added to.
var ErrMismatch = errors.New("the export does not match its manifest")

// Verify reads a document as Writer writes it and checks each part's rows
// against the manifest's count and SHA-256. It holds one row at a time.
func Verify(r io.Reader) (Header, Manifest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	n := 0
	next := func() ([]byte, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("line %d: %w", n+1, io.ErrUnexpectedEOF)
		}
		n++
		return sc.Bytes(), nil
	}
	bad := func(what string) error { return fmt.Errorf("line %d: %s", n, what) }
	var h Header
	line, err := next()
	if err != nil {
		return Header{}, Manifest{}, err
	}
	head, ok := bytes.CutSuffix(line, []byte(","))
	if !ok || json.Unmarshal(append(head, '}'), &h) != nil || h.Format != Format {
		return Header{}, Manifest{}, bad("not the header of a " + Format + " document")
	}
	if line, err = next(); err != nil {
		return h, Manifest{}, err
	}
	if string(line) != `"parts":[` {
		return h, Manifest{}, bad(`want "parts":[`)
	}
	var got []Part
	for {
		if line, err = next(); err != nil {
			return h, Manifest{}, err
		}
		if string(line) == "]," {
			break
		}
		start, ok := bytes.CutSuffix(line, []byte(`,"rows":[`))
		var p struct {
			Table *string `json:"table"`
		}
		if !ok || json.Unmarshal(append(start, '}'), &p) != nil || p.Table == nil {
			return h, Manifest{}, bad("want the start of a part")
		}
		part := Part{Table: *p.Table}
		sum := sha256.New()
		for {
			if line, err = next(); err != nil {
				return h, Manifest{}, err
			}
			if string(line) == "]}," || string(line) == "]}" {
				break
			}
			row, _ := bytes.CutSuffix(line, []byte(","))
			if len(row) == 0 || row[0] != '{' || !json.Valid(row) {
				return h, Manifest{}, bad("a row is not a JSON object")
			}
			sum.Write(row)
			sum.Write([]byte{'\n'})
			part.Count++
		}
		part.SHA256 = hex.EncodeToString(sum.Sum(nil))
		got = append(got, part)
	}
	if line, err = next(); err != nil {
		return h, Manifest{}, err
	}
	body, ok := bytes.CutPrefix(line, []byte(`"manifest":`))
	body, ok2 := bytes.CutSuffix(body, []byte("}"))
	var m Manifest
	if !ok || !ok2 || json.Unmarshal(body, &m) != nil {
		return h, Manifest{}, bad("want the manifest")
	}
	if sc.Scan() {
		return h, m, fmt.Errorf("line %d: text after the manifest", n+1)
	}
	if len(m.Tables) != len(got) {
		return h, m, fmt.Errorf("%d parts, the manifest lists %d: %w", len(got), len(m.Tables), ErrMismatch)
	}
	for i, p := range got {
		if m.Tables[i] != p {
			return h, m, fmt.Errorf("part %s: %d rows, SHA-256 %s; the manifest says %d, %s: %w",
				p.Table, p.Count, p.SHA256, m.Tables[i].Count, m.Tables[i].SHA256, ErrMismatch)
		}
	}
	return h, m, nil
}
