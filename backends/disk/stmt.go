package disk

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// stmt is a statement prepared on first use, so that opening a backend (and each of the many
// backends a test opens) parses only the statements it runs.
type stmt struct {
	db    *sql.DB
	query string
	mu    sync.Mutex
	st    atomic.Pointer[sql.Stmt]
}

func newStmt(db *sql.DB, query string) *stmt { return &stmt{db: db, query: query} }

// prepared returns the prepared statement, preparing it on first use.
func (s *stmt) prepared(ctx context.Context) (*sql.Stmt, error) {
	if st := s.st.Load(); st != nil {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.st.Load(); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.query)
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", s.query, err)
	}
	s.st.Store(st)
	return st, nil
}

// row is a *sql.Row that may carry the error of preparing its statement.
type row struct {
	r   *sql.Row
	err error
}

// Scan is [sql.Row.Scan].
func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.r.Scan(dest...)
}

// QueryRowContext runs the statement outside a transaction.
func (s *stmt) QueryRowContext(ctx context.Context, args ...any) row {
	return s.in(ctx, nil).QueryRowContext(ctx, args...)
}

// QueryContext runs the statement outside a transaction.
func (s *stmt) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.in(ctx, nil).QueryContext(ctx, args...)
}

// ExecContext runs the statement outside a transaction.
func (s *stmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.in(ctx, nil).ExecContext(ctx, args...)
}

// bound is a statement bound to a transaction (or to none).
type bound struct {
	st  *sql.Stmt
	err error
}

// in returns the statement bound to tx (nil: no transaction). In a transaction, a statement not
// prepared yet is prepared for this transaction only: preparing it on the pool would wait for the
// connection the transaction holds.
func (s *stmt) in(ctx context.Context, tx *sql.Tx) bound {
	if tx == nil {
		st, err := s.prepared(ctx)
		return bound{st: st, err: err}
	}
	if st := s.st.Load(); st != nil {
		return bound{st: tx.StmtContext(ctx, st)}
	}
	st, err := tx.PrepareContext(ctx, s.query)
	if err != nil {
		return bound{err: fmt.Errorf("preparing %q: %w", s.query, err)}
	}
	return bound{st: st}
}

func (b bound) QueryRowContext(ctx context.Context, args ...any) row {
	if b.err != nil {
		return row{err: b.err}
	}
	return row{r: b.st.QueryRowContext(ctx, args...)}
}

func (b bound) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.st.QueryContext(ctx, args...)
}

func (b bound) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	if b.err != nil {
		return nil, b.err
	}
	return b.st.ExecContext(ctx, args...)
}
