package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// action runs one admin action: refused unless http.admin is on and the
// form carries this browser's token; logged with what it did.
func (c *Console) action(w http.ResponseWriter, r *http.Request) {
	if !c.snapshot().Admin {
		http.Error(w, "actions are off: set http.admin: true to allow them", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !c.csrf.valid(r, r.PostForm.Get("csrf")) {
		http.Error(w, "missing or stale form token: reload the page and try again", http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	back, done, err := c.act(ctx, r.PathValue("action"), r)
	if err != nil {
		c.log.Warn("console action failed", "action", r.PathValue("action"), "remote", r.RemoteAddr, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.log.Info("console action", "action", r.PathValue("action"), "did", done, "remote", r.RemoteAddr)
	// Post/redirect/get: reloading the page does not repeat the action.
	// The message is signed, so that a link elsewhere cannot make the
	// console say something it did not do.
	http.Redirect(w, r, back+"?done="+url.QueryEscape(done)+"&sig="+c.csrf.sign("flash\x00"+done), http.StatusSeeOther)
}

// act does the action and returns the page to go back to and what it did.
func (c *Console) act(ctx context.Context, action string, r *http.Request) (back, done string, err error) {
	f := r.PostForm
	switch action {
	case "reload":
		if c.o.Reload == nil {
			return "", "", fmt.Errorf("reload is not available")
		}
		c.o.Reload()
		return "/", "config reload requested", nil
	case "mute":
		name := f.Get("profile")
		st := c.snapshot()
		if _, ok := st.profiles[name]; !ok {
			return "", "", fmt.Errorf("mute: no profile named %q", name)
		}
		if c.o.Mutes == nil {
			return "", "", fmt.Errorf("mute: not available in this process")
		}
		until := c.o.Now()
		msg := "profile " + name + " unmuted"
		if f.Get("for") != "0" {
			d, err := parseSince(f.Get("for"))
			if err != nil || d > 7*24*time.Hour {
				return "", "", fmt.Errorf("mute profile %q: want a length up to 7d, like 1h or 24h", name)
			}
			until = until.Add(d)
			msg = "profile " + name + " muted until " + stamp(until)
		}
		if err := c.o.Mutes.Mute(ctx, name, until); err != nil {
			return "", "", err
		}
		return "/profiles/" + url.PathEscape(name), msg, nil
	case "replay", "drop":
		if c.o.Dead == nil {
			return "", "", fmt.Errorf("%s: dead letters are not available", action)
		}
		id, perr := strconv.ParseUint(f.Get("id"), 10, 64)
		if perr != nil {
			return "", "", fmt.Errorf("%s: bad dead letter id %q", action, f.Get("id"))
		}
		if action == "replay" {
			err = c.o.Dead.Replay(ctx, id)
		} else {
			err = c.o.Dead.Drop(ctx, id)
		}
		if err != nil {
			return "", "", err
		}
		c.deadMu.Lock()
		c.deadTime = time.Time{}
		c.deadMu.Unlock()
		verb := map[string]string{"replay": "replayed", "drop": "dropped"}[action]
		return "/dead", fmt.Sprintf("dead letter %d %s", id, verb), nil
	}
	return "", "", fmt.Errorf("no action %q", action)
}
