package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/feedwatch/feedwatch/daemon"
)

func statusCmd(ctx context.Context, e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Print the running daemon's feeds and profiles (from http.listen's /api/status)", Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.loadConfig(e)
			if err != nil {
				return err
			}
			body, err := getLocal(ctx, cfg.HTTP.Listen, "/api/status", 10*time.Second)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			var st daemon.Status
			if err := json.Unmarshal(body, &st); err != nil {
				return fmt.Errorf("status: %w", err)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "mode %s, ready %v\n\n", st.Mode, st.Ready)
			fmt.Fprintln(tw, "FEED\tLAST POLL\tRESULT\tNEXT DUE\tERROR")
			for _, f := range st.Feeds {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Name, when(f.LastPoll), f.Result, when(f.NextDue), f.Error)
			}
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
				fmt.Fprintln(tw, "\nMEMBER\tROLE\tHOST\tFEEDS OWNED\tLAST SEEN")
				for _, m := range st.Members {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", m.ID, m.Role, m.Host, m.FeedsOwned, when(m.LastSeen))
				}
			}
			return tw.Flush()
		},
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
	return &cobra.Command{
		Use: "healthcheck", Short: "Exit 0 when the running daemon answers /healthz", Args: args(cobra.NoArgs), Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := g.loadConfig(e)
			if err != nil {
				return err
			}
			if _, err := getLocal(ctx, cfg.HTTP.Listen, "/healthz", 5*time.Second); err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			return nil
		},
	}
}

// getLocal GETs path from the daemon listening on listen and returns the
// body of a 200 answer.
func getLocal(ctx context.Context, listen, path string, timeout time.Duration) ([]byte, error) {
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
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
