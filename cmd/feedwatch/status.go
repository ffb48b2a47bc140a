package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
			if cfg.HTTP.Listen == "" {
				return errors.New("http.listen is off: the daemon serves no status")
			}
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+localAddr(cfg.HTTP.Listen)+"/api/status", nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			defer resp.Body.Close()
			var st daemon.Status
			if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
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
			addr := localAddr(cfg.HTTP.Listen)
			if addr == "" {
				return errors.New("http.listen is off")
			}
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://"+addr+"/healthz", nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
			}
			return nil
		},
	}
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
