package matcher

import (
	"strings"

	"github.com/feedwatch/feedwatch/item"
	"github.com/feedwatch/feedwatch/plaintext"
)

// The reference evaluator: slow and obviously correct. It walks a parsed
// profile over the full token list of every field, with no dictionary,
// no candidates and no anchors, so the compiled matcher can be checked
// against it.

type refItem struct {
	texts [numFields]string
	toks  [numFields][]word
}

func refPrepare(it *item.Item) *refItem {
	ft := sharedFoldTable()
	ri := &refItem{}
	ri.texts[fTitle] = plaintext.FromHTML(it.Title)
	ri.texts[fSummary] = plaintext.FromHTML(it.Summary)
	ri.texts[fContent] = plaintext.FromHTML(it.Content)
	ri.texts[fAuthor] = strings.Join(it.Authors, ", ")
	ri.texts[fCategory] = strings.Join(it.Categories, ", ")
	ri.texts[fLink] = it.Link
	for f := range numFields {
		ri.toks[f] = words(ft, ri.texts[f])
	}
	return ri
}

// refMatch reports whether profile p matches; p must be valid.
func refMatch(p Profile, ri *refItem) bool {
	n, errs := buildProfile(sharedFoldTable(), p)
	if len(errs) > 0 {
		panic(errs[0])
	}
	return refEval(n, ri)
}

func refEval(n *node, ri *refItem) bool {
	switch n.kind {
	case kAnd:
		for _, k := range n.kids {
			if !refEval(k, ri) {
				return false
			}
		}
		return true
	case kOr:
		for _, k := range n.kids {
			if refEval(k, ri) {
				return true
			}
		}
		return false
	case kNot:
		return !refEval(n.kids[0], ri)
	}
	for f := range numFields {
		if n.fields&(1<<f) != 0 && refLeaf(n, ri.toks[f], ri.texts[f]) {
			return true
		}
	}
	return false
}

func refLeaf(n *node, toks []word, text string) bool {
	switch n.kind {
	case kRegexp:
		return n.re.MatchString(text)
	case kWord:
		for _, t := range toks {
			if t.fold == n.words[0] {
				return true
			}
		}
	case kPrefix:
		for _, t := range toks {
			if strings.HasPrefix(t.fold, n.words[0]) {
				return true
			}
		}
	case kPhrase:
		memo := map[[2]int]bool{}
		for i := range toks {
			if refPhraseFrom(toks, i, n.words, memo) {
				return true
			}
		}
	case kNear:
		// Some window of len(words)+slop tokens holds every word.
		w := len(n.words) + n.slop
		for s := range toks {
			all := true
			for _, want := range n.words {
				found := false
				for i := s; i < s+w && i < len(toks); i++ {
					if toks[i].fold == want {
						found = true
						break
					}
				}
				if !found {
					all = false
					break
				}
			}
			if all {
				return true
			}
		}
	}
	return false
}

// refPhraseFrom: ws[0] at toks[i], the rest follow with only articles
// between them. memo remembers failed (position, words left) pairs, which
// keeps runs of articles from making the search exponential.
func refPhraseFrom(toks []word, i int, ws []string, memo map[[2]int]bool) bool {
	if toks[i].fold != ws[0] {
		return false
	}
	if len(ws) == 1 {
		return true
	}
	key := [2]int{i, len(ws)}
	if memo[key] {
		return false
	}
	for j := i + 1; j < len(toks); j++ {
		if refPhraseFrom(toks, j, ws[1:], memo) {
			return true
		}
		if !isStop(toks[j].fold) {
			break
		}
	}
	memo[key] = true
	return false
}
