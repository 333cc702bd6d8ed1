// Package orgexport writes all of an organisation's data as one JSON
// document with a manifest (R-PRIV-5), streamed row by row, and checks
// such a document against its manifest.
//
// The document is one JSON object, written a row a line so that it can be
// streamed, counted and checked without holding it:
//
//	{"format":"fusionfleet-export-1","org":"org_…","created":"2026-…Z",
//	"parts":[
//	{"table":"orgs","rows":[
//	{"id":"org_…","name":"…"}
//	]},
//	{"table":"sites","rows":[
//	…
//	]}
//	],
//	"manifest":{"tables":[{"table":"orgs","count":1,"sha256":"…"},…]}}
//
// A part's SHA-256 is over its rows' lines as written, each without its
// trailing comma and followed by a newline.
package orgexport

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/fleet"
)

// Format names the document's format.
const Format = "fusionfleet-export-1"

// Part is one table's entry in the manifest.
type Part struct {
	Table  string `json:"table"`
	Count  int64  `json:"count"`
	SHA256 string `json:"sha256"`
}

// Manifest lists the document's parts.
type Manifest struct {
	Tables []Part `json:"tables"`
}

// Writer writes a document. Call Part before each table's rows, Row for
// each row, and Close at the end.
type Writer struct {
	w        *bufio.Writer
	h        hash.Hash
	manifest Manifest
	pending  []byte // the last row's line, written once the next shows whether a comma follows
	inPart   bool
	// Progress, if set, is called after each row with the rows written
	// so far.
	Progress func(rows int64)
	rows     int64
}

// NewWriter starts the document of org's data, created at now.
func NewWriter(w io.Writer, org fleet.OrgID, now time.Time) (*Writer, error) {
	head, err := json.Marshal(struct {
		Format  string    `json:"format"`
		Org     string    `json:"org"`
		Created time.Time `json:"created"`
	}{Format, string(org), now.UTC()})
	if err != nil {
		return nil, err
	}
	x := &Writer{w: bufio.NewWriterSize(w, 32<<10), manifest: Manifest{Tables: []Part{}}}
	x.w.Write(head[:len(head)-1])
	_, err = x.w.WriteString(",\n\"parts\":[\n")
	return x, err
}

// Part starts the rows of table.
func (x *Writer) Part(table string) error {
	if err := x.endPart(","); err != nil {
		return err
	}
	name, _ := json.Marshal(table)
	x.w.WriteString(`{"table":`)
	x.w.Write(name)
	_, err := x.w.WriteString(`,"rows":[` + "\n")
	x.manifest.Tables = append(x.manifest.Tables, Part{Table: table})
	x.h = sha256.New()
	x.inPart = true
	return err
}

// Row writes one row of the current part.
func (x *Writer) Row(row any) error {
	if !x.inPart {
		return errors.New("export: a row before its part")
	}
	b, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := x.flushRow(","); err != nil {
		return err
	}
	x.pending = b
	x.h.Write(b)
	x.h.Write([]byte{'\n'})
	x.manifest.Tables[len(x.manifest.Tables)-1].Count++
	x.rows++
	if x.Progress != nil {
		x.Progress(x.rows)
	}
	return nil
}

func (x *Writer) flushRow(sep string) error {
	if x.pending == nil {
		return nil
	}
	x.w.Write(x.pending)
	x.pending = nil
	_, err := x.w.WriteString(sep + "\n")
	return err
}

func (x *Writer) endPart(sep string) error {
	if !x.inPart {
		return nil
	}
	if err := x.flushRow(""); err != nil {
		return err
	}
	p := &x.manifest.Tables[len(x.manifest.Tables)-1]
	p.SHA256 = hex.EncodeToString(x.h.Sum(nil))
	x.inPart = false
	_, err := x.w.WriteString("]}" + sep + "\n")
	return err
}

// Close ends the last part, writes the manifest and flushes. It returns
// the manifest.
func (x *Writer) Close() (Manifest, error) {
	if err := x.endPart(""); err != nil {
		return Manifest{}, err
	}
	m, err := json.Marshal(x.manifest)
	if err != nil {
		return Manifest{}, err
	}
	x.w.WriteString("],\n\"manifest\":")
	x.w.Write(m)
	x.w.WriteString("}\n")
	return x.manifest, x.w.Flush()
}
