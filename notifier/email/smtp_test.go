package email

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpServer is a real SMTP server on 127.0.0.1 that records what it
// accepts and misbehaves on demand.
type smtpServer struct {
	host string
	port int

	mu      sync.Mutex
	msgs    []smtpMsg
	user    string // when set, AUTH PLAIN with pass is required
	pass    string
	rcptErr error
	dataErr error
	drop    bool          // close the connection in DATA
	slow    chan struct{} // DATA waits for this (closed at cleanup)
	authed  []string
	// echo, when set, offers only mech and fails every AUTH with a 535
	// that quotes what the client sent, base64 in echo.
	echo *base64.Encoding
	mech string
}

type smtpMsg struct {
	from  string
	rcpts []string
	data  []byte
}

type smtpMode int

const (
	plain smtpMode = iota
	startTLS
	implicitTLS
)

// startSMTP runs a server; with TLS modes it also returns the client TLS
// config that trusts its certificate.
func startSMTP(t *testing.T, mode smtpMode, setup func(*smtpServer)) (*smtpServer, *tls.Config) {
	t.Helper()
	s := &smtpServer{host: "127.0.0.1", slow: make(chan struct{})}
	if setup != nil {
		setup(s)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var clientTLS *tls.Config
	if mode != plain {
		serverTLS, pool := selfSigned(t)
		clientTLS = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
		if mode == startTLS {
			srv.TLSConfig = serverTLS
		} else {
			ln = tls.NewListener(ln, serverTLS)
		}
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		close(s.slow)
		_ = srv.Close()
	})
	return s, clientTLS
}

func (s *smtpServer) messages() []smtpMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMsg(nil), s.msgs...)
}

func (s *smtpServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

type session struct {
	s      *smtpServer
	conn   *smtp.Conn
	authed bool
	msg    smtpMsg
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.echo != nil {
		return []string{ss.s.mech}
	}
	if ss.s.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.s.echo != nil {
		return &echoAuth{mech: mech, enc: ss.s.echo}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != ss.s.pass {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		ss.authed = true
		ss.s.mu.Lock()
		ss.s.authed = append(ss.s.authed, user)
		ss.s.mu.Unlock()
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.msg = smtpMsg{from: from}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rcptErr != nil {
		return ss.s.rcptErr
	}
	ss.msg.rcpts = append(ss.msg.rcpts, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch {
	case ss.s.drop:
		_ = ss.conn.Conn().Close()
		return errors.New("dropped")
	case ss.s.dataErr != nil:
		return ss.s.dataErr
	}
	if ss.s.slow != nil && ss.s.dataErr == nil && slowMarker(b) {
		<-ss.s.slow
	}
	ss.msg.data = b
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.msg)
	ss.s.mu.Unlock()
	return nil
}

// slowMarker makes DATA hang for messages that ask for it.
func slowMarker(b []byte) bool { return bytes.Contains(b, []byte("hang-please")) }

func (ss *session) Reset()        { ss.msg = smtpMsg{} }
func (ss *session) Logout() error { return nil }

func smtpErr(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
}

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "feedwatch test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}, pool
}

// echoAuth is a server that answers AUTH with a 535 quoting the client's
// responses in base64, as some servers do.
type echoAuth struct {
	mech string
	enc  *base64.Encoding
	got  []string
}

func (a *echoAuth) Next(resp []byte) ([]byte, bool, error) {
	if resp != nil {
		a.got = append(a.got, a.enc.EncodeToString(resp))
	}
	if a.mech == sasl.Login && len(a.got) < 2 {
		if len(a.got) == 0 {
			return []byte("Username:"), false, nil
		}
		return []byte("Password:"), false, nil
	}
	return nil, false, &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
		Message: "authentication failed for AUTH " + a.mech + " " + strings.Join(a.got, " ")}
}
