package render

import "text/template/parse"

// Interruptible makes every loop of a parsed template write: it puts an
// empty text node at the head of each range body and of the template's
// own body (which each {{template}} call runs). text/template writes a
// text node even when it is empty, and the writer of Bounded fails every
// write once the time is up, so a render abandoned at its timeout stops
// at its next iteration or call instead of spinning on for minutes:
// {{range $n}} with $n a huge number, {{range len .Summary}} nested, or a
// template calling itself twice on a shorter slice write nothing and no
// output cap would stop them. The output is unchanged. Call it once,
// after Parse and before the first Execute (html/template escapes the
// tree then).
func Interruptible(tree *parse.Tree) {
	if tree == nil {
		return
	}
	if tree.Root == nil {
		tree.Root = &parse.ListNode{NodeType: parse.NodeList}
	}
	guardList(tree.Root)
	prepend(tree.Root)
}

// guardList walks a list, guarding every range body inside it.
func guardList(l *parse.ListNode) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.IfNode:
			guardList(n.List)
			guardList(n.ElseList)
		case *parse.WithNode:
			guardList(n.List)
			guardList(n.ElseList)
		case *parse.RangeNode:
			if n.List == nil {
				n.List = &parse.ListNode{NodeType: parse.NodeList, Pos: n.Pos}
			}
			guardList(n.List)
			prepend(n.List)
			guardList(n.ElseList)
		}
	}
}

func prepend(l *parse.ListNode) {
	tick := &parse.TextNode{NodeType: parse.NodeText, Pos: l.Pos, Text: []byte{}}
	l.Nodes = append([]parse.Node{tick}, l.Nodes...)
}
