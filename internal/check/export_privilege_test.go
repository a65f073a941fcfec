package check

// Privileged makes mayMark see a process that AT_SECURE says is elevated
// (or not) and a caller of real uid uid, until restore.
func Privileged(isElevated bool, uid int) (restore func()) {
	e, g := elevated, getuid
	elevated = func() bool { return isElevated }
	getuid = func() int { return uid }
	return func() { elevated, getuid = e, g }
}
