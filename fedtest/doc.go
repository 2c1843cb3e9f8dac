// Package fedtest holds the multi-process tests of a real federation:
// each member's node is a separate `commonroot node` process on its own
// host, a network namespace the test makes with `ip netns` and links to
// the others with veth pairs on a bridge (in a hub namespace the test also
// makes). The founding ceremony runs through the command line in each
// host's namespace. The tests need root (CI runs as root): run by another
// user they skip and say so; run as root on a machine where root cannot
// make namespaces they fail.
//
// Addresses 10.77.X.0/24 exist only inside the test's namespaces: nothing
// in the root namespace is touched. The test process reaches a host by
// opening its sockets inside that host's namespace (setns on a locked OS
// thread).
package fedtest
