package matcher

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Profile is what the matcher needs of a configured profile.
type Profile struct {
	Name     string
	Query    string
	Keywords []string
	Exclude  []string
}

// errOperator is the error for a keyword list entry that uses the query
// language; the list entries are plain phrases.
var errOperator = errors.New("operators are not allowed in a keyword list")

// CheckProfile validates one profile: the query parses, the keywords and
// exclude entries are plain phrases, and there is a query or keywords. Each
// error names its field: `query: unexpected ")" at column 14`,
// `keywords[2]: operators are not allowed in a keyword list`.
func CheckProfile(p Profile) []error {
	_, errs := buildProfile(sharedFoldTable(), p)
	return errs
}

// buildProfile parses a profile into one tree: query AND (any keyword)
// AND NOT (any exclude).
func buildProfile(ft *foldTable, p Profile) (*node, []error) {
	var errs []error
	var parts []*node
	if p.Query != "" {
		q, err := parseQuery(ft, p.Query)
		if err != nil {
			errs = append(errs, fmt.Errorf("query: %w", err))
		} else {
			parts = append(parts, q)
		}
	}
	kw, kwErrs := listNode(ft, "keywords", p.Keywords)
	errs = append(errs, kwErrs...)
	if kw != nil {
		parts = append(parts, kw)
	}
	ex, exErrs := listNode(ft, "exclude", p.Exclude)
	errs = append(errs, exErrs...)
	if ex != nil {
		parts = append(parts, &node{kind: kNot, kids: []*node{ex}})
	}
	if p.Query == "" && len(p.Keywords) == 0 {
		errs = append(errs, errors.New("a profile needs a query or keywords"))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return &node{kind: kAnd, kids: parts}, nil
}

// listNode turns a keywords or exclude list into an OR of its phrases.
func listNode(ft *foldTable, field string, list []string) (*node, []error) {
	var errs []error
	var kids []*node
	for i, entry := range list {
		n, err := listEntry(ft, entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s[%d]: %w", field, i, err))
			continue
		}
		kids = append(kids, n)
	}
	switch {
	case len(errs) > 0 || len(kids) == 0:
		return nil, errs
	case len(kids) == 1:
		return kids[0], nil
	}
	return &node{kind: kOr, fields: defaultFields, kids: kids}, nil
}

// listEntry parses one keyword: a word, a phrase or a prefix ("Uyghur*"),
// searched in the default fields.
func listEntry(ft *foldTable, entry string) (*node, error) {
	e := strings.TrimSpace(entry)
	if e == "" {
		return nil, errors.New("empty keyword")
	}
	if usesOperators(e) {
		return nil, errOperator
	}
	n, err := termNode(ft, e, 0)
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			// The column of a whole-entry error says nothing: keep the message.
			return nil, errors.New(se.Msg)
		}
		return nil, err
	}
	n.fields = defaultFields
	return n, nil
}

// usesOperators reports whether a list entry uses the query syntax.
func usesOperators(e string) bool {
	if strings.ContainsAny(e, `()"`) {
		return true
	}
	if len(e) > 1 && e[0] == '/' && e[len(e)-1] == '/' {
		return true
	}
	for _, w := range strings.FieldsFunc(e, unicode.IsSpace) {
		switch {
		case w == "AND" || w == "OR" || w == "NOT":
			return true
		case len(w) > 1 && w[0] == '-':
			return true
		}
		if i := strings.IndexByte(w, ':'); i > 0 {
			if _, ok := fieldByName(w[:i]); ok {
				return true
			}
		}
	}
	return false
}
