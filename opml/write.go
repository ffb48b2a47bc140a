package opml

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// ExportFeed is one feed to write.
type ExportFeed struct {
	// Name is written as both text and title: readers show one or the
	// other, and Parse names the feed from it.
	Name    string
	XMLURL  string
	HTMLURL string
	Tags    []string
}

type xOPML struct {
	XMLName xml.Name   `xml:"opml"`
	Version string     `xml:"version,attr"`
	Title   string     `xml:"head>title"`
	Created string     `xml:"head>dateCreated"`
	Body    []xOutline `xml:"body>outline"`
}

type xOutline struct {
	Type     string     `xml:"type,attr,omitempty"`
	Text     string     `xml:"text,attr"`
	Title    string     `xml:"title,attr,omitempty"`
	XMLURL   string     `xml:"xmlUrl,attr,omitempty"`
	HTMLURL  string     `xml:"htmlUrl,attr,omitempty"`
	Outlines []xOutline `xml:"outline"`
}

// Write writes feeds as an OPML 2.0 document. Tags become folders, the
// shape Miniflux, FreshRSS, Feedly and newsboat all import: one
// <outline text="tag"> per tag, in order of first use, holding each feed
// that has the tag (a feed with two tags is in two folders; Parse merges
// them back into one feed with both tags, and readers with one folder per
// feed keep the first). Feeds without tags follow the folders at the top
// level.
func Write(w io.Writer, title string, created time.Time, feeds []ExportFeed) error {
	doc := xOPML{Version: "2.0", Title: title, Created: created.UTC().Format(time.RFC1123Z)}
	folders := map[string]int{}
	var loose []xOutline
	for _, f := range feeds {
		o := xOutline{Type: "rss", Text: f.Name, Title: f.Name, XMLURL: f.XMLURL, HTMLURL: f.HTMLURL}
		if len(f.Tags) == 0 {
			loose = append(loose, o)
			continue
		}
		seen := map[string]bool{}
		for _, t := range f.Tags {
			if seen[t] {
				continue
			}
			seen[t] = true
			i, ok := folders[t]
			if !ok {
				i = len(doc.Body)
				folders[t] = i
				doc.Body = append(doc.Body, xOutline{Text: t, Title: t})
			}
			doc.Body[i].Outlines = append(doc.Body[i].Outlines, o)
		}
	}
	doc.Body = append(doc.Body, loose...)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write opml: %w", err)
	}
	return nil
}
