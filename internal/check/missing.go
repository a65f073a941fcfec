package check

// Missing is what Validate returns when the command line needs a part the
// binary was built without. The check binaries leave out what most calls
// never use and every call would pay for at start-up (crypto/tls and x509
// for --tls, regexp for --body-regex, crypto/md5 for --digest): such a
// command line is run by lbcheck, which has everything (internal/plugin
// execs it). Missing is not bad usage: the same line is good for lbcheck.
type Missing struct {
	Option string // what needs the part: "--tls"
}

func (m *Missing) Error() string {
	return "this build of the check has no " + m.Option + "; lbcheck has"
}
