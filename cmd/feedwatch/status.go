package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/config"
	"github.com/feedwatch/feedwatch/daemon"
)

func statusCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use: "status", Short: "Print the running daemon's feeds and profiles (from http.listen's /api/status)", Args: args(cobra.NoArgs),
		Long: `status asks the running daemon for its state (GET /api/status on http.listen) and
prints its feeds (last poll, result, next poll, error), profiles (hits, last hit)
and notifiers (delivered, failed, dead, pending). When several processes poll
feeds, every feed is listed with the member that polls it; the other members'
feeds show the last poll they stored (a poll that changes nothing is stored only
every few hours).

It reads only http.listen from the config, so it works right after a broken edit
and without the daemon's secrets; --url names the daemon directly. When the daemon
has http.auth, set FEEDWATCH_HTTP_PASSWORD to the password: status sends it with
http.auth.username from the config (or FEEDWATCH_HTTP_AUTH_USERNAME).`,
		Example: `  feedwatch status --config /etc/feedwatch/feedwatch.yaml
  feedwatch status --url 127.0.0.1:7070`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen, err := daemonAddr(e, g, url)
			if err != nil {
				return err
			}
			body, err := getLocal(ctx, listen, "/api/status", 10*time.Second, statusCreds(e, g))
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			var st daemon.Status
			if err := json.Unmarshal(body, &st); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "mode %s, ready %v\n", st.Mode, st.Ready)
			if c := st.State; c != nil {
				printState(tw, *c)
			}
			fmt.Fprintln(tw)
			// Several processes poll: every feed, and who polls it (the
			// others' rows are the state they stored).
			if slices.ContainsFunc(st.Feeds, func(f daemon.FeedStatus) bool { return f.Owner != "" }) {
				fmt.Fprintln(tw, "FEED\tLAST POLL\tRESULT\tNEXT DUE\tPOLLED BY\tERROR")
				for _, f := range st.Feeds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, when(f.LastPoll), f.Result, when(f.NextDue), f.Owner, f.Error)
				}
			} else {
				fmt.Fprintln(tw, "FEED\tLAST POLL\tRESULT\tNEXT DUE\tERROR")
				for _, f := range st.Feeds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, when(f.LastPoll), f.Result, when(f.NextDue), f.Error)
				}
			}
			for _, f := range st.Feeds {
				if f.Notice != "" {
					fmt.Fprintf(tw, "\nnotice: feed %s %s\n", f.Name, f.Notice)
				}
			}
			printPush(tw, st.Feeds)
			fmt.Fprintln(tw, "\nPROFILE\tHITS\tLAST HIT")
			names := make([]string, 0, len(st.Profiles))
			for n := range st.Profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				p := st.Profiles[n]
				fmt.Fprintf(tw, "%s\t%d\t%s\n", n, p.Hits, when(p.LastHit))
			}
			if len(st.Notifiers) > 0 {
				fmt.Fprintln(tw, "\nNOTIFIER\tDELIVERED\tFAILED\tDEAD\tPENDING")
				names = names[:0]
				for n := range st.Notifiers {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					x := st.Notifiers[n]
					fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.0f\n", n, x.Delivered, x.Failed, x.Dead, x.Pending)
				}
			}
			if len(st.Members) > 0 {
				fmt.Fprintln(tw, "\nMEMBER\tROLE\tHOST\tFEEDS OWNED\tLAST SEEN\tFEED LIST")
				for _, m := range st.Members {
					list := "-"
					if m.FeedList != "" {
						list = fmt.Sprintf("%s (%d feeds)", m.FeedList, m.FeedsConfigured)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Role, m.Host, m.FeedsOwned, when(m.LastSeen), list)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the daemon's http.listen address (host:port or http://host:port); default: read from the config")
	return cmd
}

// daemonAddr is where the running daemon listens: --url, else http.listen
// read leniently from the config (nothing else of it need be valid).
func daemonAddr(e env, g *globals, url string) (string, error) {
	if url != "" {
		return strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"), nil
	}
	path, err := g.configPath(e)
	if err != nil {
		return "", err
	}
	listen, err := config.Listen(path, e.getenv)
	if err != nil {
		return "", fmt.Errorf("%w\n(status needs only http.listen from the config; --url gives the address directly)", err)
	}
	return listen, nil
}

// printState shows the state check at start; damage gets a line per loss.
func printState(w io.Writer, c daemon.StateCheck) {
	switch c.Result {
	case daemon.StateDamaged:
		fmt.Fprintf(w, "state DAMAGED at start (last known good %s): items published before it are not alerted again\n", when(c.GoodAt))
		for _, l := range c.Lost {
			fmt.Fprintf(w, "  lost: %s\n", l)
		}
	case daemon.StateUnchecked:
		fmt.Fprintf(w, "state not checked at start: %s\n", c.Error)
	default:
		fmt.Fprintf(w, "state %s\n", strings.ReplaceAll(c.Result, "_", " "))
		if !c.RecoverBefore.IsZero() {
			fmt.Fprintf(w, "  recovering from state lost earlier: items published before %s are not alerted at their feed's first poll\n", when(c.RecoverBefore))
		}
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// healthcheckCmd is for container HEALTHCHECKs, where no curl exists: it
// asks the daemon's /healthz and exits 0 or 1.
func healthcheckCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	var url string
	cmd := &cobra.Command{
		Use: "healthcheck", Short: "Exit 0 when the running daemon answers /healthz", Args: args(cobra.NoArgs), Hidden: true,
		Long: `healthcheck asks the running daemon's /healthz and exits 0 when it answers 200, 1
otherwise: for container HEALTHCHECKs, where no curl exists. Like status, it reads
only http.listen from the config.`,
		Example: `  feedwatch healthcheck --config /etc/feedwatch/feedwatch.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			listen, err := daemonAddr(e, g, url)
			if err != nil {
				return err
			}
			if _, err := getLocal(ctx, listen, "/healthz", 5*time.Second, nil); err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the daemon's http.listen address; default: read from the config")
	return cmd
}

// creds are http.auth's user and password as the CLI knows them.
type creds struct{ user, password string }

// statusCreds are the credentials for the daemon's http.auth: the password
// from $FEEDWATCH_HTTP_PASSWORD (the config holds only its hash), the user
// from the config; nil without a password.
func statusCreds(e env, g *globals) *creds {
	pw := e.getenv("FEEDWATCH_HTTP_PASSWORD")
	if pw == "" {
		return nil
	}
	c := &creds{password: pw}
	if path, err := g.configPath(e); err == nil {
		c.user = config.HTTPUsername(path, e.getenv)
	} else {
		c.user = e.getenv(config.EnvName("http.auth.username"))
	}
	return c
}

// getLocal GETs path from the daemon listening on listen and returns the
// body of a 200 answer.
func getLocal(ctx context.Context, listen, path string, timeout time.Duration, c *creds) ([]byte, error) {
	addr := localAddr(listen)
	if addr == "" {
		return nil, errors.New("http.listen is off: the daemon serves no status")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if c != nil {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		if c == nil {
			return nil, fmt.Errorf("%s answered %s: the daemon has http.auth; set FEEDWATCH_HTTP_PASSWORD", path, resp.Status)
		}
		return nil, fmt.Errorf("%s answered %s: check FEEDWATCH_HTTP_PASSWORD and http.auth.username", path, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", path, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}

// localAddr turns a listen address into one to dial: a wildcard host
// becomes loopback.
func localAddr(listen string) string {
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// printPush lists the feeds with a WebSub subscription (websub on).
func printPush(w io.Writer, feeds []daemon.FeedStatus) {
	head := false
	for _, f := range feeds {
		if f.Push == nil || f.Push.State == "none" {
			continue
		}
		if !head {
			fmt.Fprintln(w, "\nFEED\tPUSH\tLEASE UNTIL\tLAST PUSH\tREASON")
			head = true
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", f.Name, f.Push.State, when(f.Push.Expires), when(f.Push.LastPush), f.Push.Reason)
	}
}
