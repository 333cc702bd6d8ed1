package e2e

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fusionfleet/fusionfleet/internal/wait"
)

// heldRecords counts the gateway's records the cloud's store holds.
func heldRecords(db *sql.DB) (int, error) {
	var n int
	err := db.QueryRow(`SELECT (SELECT COUNT(*) FROM received) + (SELECT COUNT(*) FROM layers) + (SELECT COUNT(*) FROM logs)`).Scan(&n)
	return n, err
}

// nextSeq is the Command Center's next gateway sequence number.
func nextSeq(db *sql.DB) (uint64, error) {
	var next uint64
	err := db.QueryRow(`SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'next_seq'`).Scan(&next)
	return next, err
}

// Issue 19's disk full on the cloud: the cloud restarts with its SQLite
// store capped at the size it has (-max-db-size), as a full disk would
// leave it. Its writer stores nothing more and says so in an error, while
// the printers go on producing and the Command Center goes on uploading;
// nothing is lost: once the cloud restarts without the cap, every record
// is in the store exactly once (the audit).
func TestCloudDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system for about half a minute")
	}
	t.Parallel()
	f := startFleet(t, fleetOptions{})
	cloudDB := filepath.Join(f.dir, "cloud", "cloud.db")
	db := openDB(t, cloudDB)
	if err := wait.Until(60*time.Second, 200*time.Millisecond, func() error {
		n, err := heldRecords(db)
		if err == nil && n == 0 {
			err = fmt.Errorf("no records stored yet")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	// The disk fills: the store may not grow past what it holds.
	f.cloud.interrupt(t)
	fi, err := os.Stat(cloudDB)
	if err != nil {
		t.Fatal(err)
	}
	f.cloudArgs = []string{"-max-db-size", strconv.FormatInt(fi.Size(), 10)}
	f.startCloud()
	ccDB := openDB(t, filepath.Join(f.dir, "cc", "commandcenter.db"))
	before, err := nextSeq(ccDB)
	if err != nil {
		t.Fatal(err)
	}
	// Let the stored count settle (what the writer had in hand), then the
	// gateway numbers well over a hundred records more.
	time.Sleep(2 * time.Second)
	full, err := heldRecords(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := wait.Until(60*time.Second, 200*time.Millisecond, func() error {
		next, err := nextSeq(ccDB)
		if err == nil && next < before+100 {
			err = fmt.Errorf("the gateway numbered %d records since the disk filled", next-before)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := heldRecords(db); err != nil || n != full {
		t.Errorf("the full store holds %d records, %v; want %d as when it filled", n, err, full)
	}
	f.cloud.interrupt(t)
	if out := f.cloud.out.String(); !strings.Contains(out, "the store is full") {
		t.Errorf("the cloud did not say its store is full:\n%.3000s", out)
	}

	// Room again: the cloud restarts without the cap and stores it all.
	t.Log("the store filled; lifting its cap")
	f.cloudArgs = nil
	f.startCloud()
	records, kept := f.audit(3)
	t.Logf("%d records (%d kept in the outbox at the end), %d stored when the disk filled", records, kept, full)
}
