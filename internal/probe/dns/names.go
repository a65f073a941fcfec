package dns

import "strconv"

// The mnemonics of record types, classes, rcodes and the numbers inside
// records, as github.com/miekg/dns v1 prints them (TestNamesAsMiekg holds
// the two together): lbcheck links miekg for --dnssec, both builds must
// print the same summary, and --expect compares records as miekg printed
// them. Arrays of constants, not maps: the linker lays them out, nothing
// runs at start-up.

type named struct {
	n    uint16
	name string
}

// typeNames is every type miekg/dns names, by number.
var typeNames = [...]named{
	{0, "None"}, {1, "A"}, {2, "NS"}, {3, "MD"}, {4, "MF"}, {5, "CNAME"}, {6, "SOA"}, {7, "MB"},
	{8, "MG"}, {9, "MR"}, {10, "NULL"}, {12, "PTR"}, {13, "HINFO"}, {14, "MINFO"}, {15, "MX"},
	{16, "TXT"}, {17, "RP"}, {18, "AFSDB"}, {19, "X25"}, {20, "ISDN"}, {21, "RT"}, {23, "NSAP-PTR"},
	{24, "SIG"}, {25, "KEY"}, {26, "PX"}, {27, "GPOS"}, {28, "AAAA"}, {29, "LOC"}, {30, "NXT"},
	{31, "EID"}, {32, "NIMLOC"}, {33, "SRV"}, {34, "ATMA"}, {35, "NAPTR"}, {36, "KX"}, {37, "CERT"},
	{39, "DNAME"}, {41, "OPT"}, {42, "APL"}, {43, "DS"}, {44, "SSHFP"}, {45, "IPSECKEY"}, {46, "RRSIG"},
	{47, "NSEC"}, {48, "DNSKEY"}, {49, "DHCID"}, {50, "NSEC3"}, {51, "NSEC3PARAM"}, {52, "TLSA"},
	{53, "SMIMEA"}, {55, "HIP"}, {56, "NINFO"}, {57, "RKEY"}, {58, "TALINK"}, {59, "CDS"},
	{60, "CDNSKEY"}, {61, "OPENPGPKEY"}, {62, "CSYNC"}, {63, "ZONEMD"}, {64, "SVCB"}, {65, "HTTPS"},
	{99, "SPF"}, {100, "UINFO"}, {101, "UID"}, {102, "GID"}, {103, "UNSPEC"}, {104, "NID"},
	{105, "L32"}, {106, "L64"}, {107, "LP"}, {108, "EUI48"}, {109, "EUI64"}, {128, "NXNAME"},
	{249, "TKEY"}, {250, "TSIG"}, {251, "IXFR"}, {252, "AXFR"}, {253, "MAILB"}, {254, "MAILA"},
	{255, "ANY"}, {256, "URI"}, {257, "CAA"}, {258, "AVC"}, {260, "AMTRELAY"}, {261, "RESINFO"},
	{32768, "TA"}, {32769, "DLV"}, {65535, "Reserved"},
}

// Types the probe refers to by name.
const (
	typeNone  = 0
	typeA     = 1
	typeCNAME = 5
	typeSOA   = 6
	typeNULL  = 10
	typeTXT   = 16
	typeAAAA  = 28
	typeOPT   = 41
	typeRRSIG = 46
	typeSPF   = 99
	typeTKEY  = 249
	typeTSIG  = 250
	typeIXFR  = 251
	typeAXFR  = 252

	classINET = 1
)

func lookup(table []named, n uint16) (string, bool) {
	for _, e := range table {
		if e.n == n {
			return e.name, true
		}
	}
	return "", false
}

// typeString is a type's mnemonic, or TYPEnnn.
func typeString(t uint16) string {
	if s, ok := lookup(typeNames[:], t); ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// typeByName finds a type by its mnemonic, exactly as spelled in the
// table (the caller upper-cases what the operator wrote).
func typeByName(s string) (uint16, bool) {
	for _, e := range typeNames {
		if e.name == s {
			return e.n, true
		}
	}
	return 0, false
}

var classNames = [...]named{{1, "IN"}, {2, "CS"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"}}

// classString is a class's mnemonic where it is no type's too (ANY is
// both), or CLASSnnn.
func classString(c uint16) string {
	if s, ok := lookup(classNames[:], c); ok {
		if _, isType := typeByName(s); !isType {
			return s
		}
	}
	return "CLASS" + strconv.Itoa(int(c))
}

var rcodeNames = [...]named{
	{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"}, {4, "NOTIMP"}, {5, "REFUSED"},
	{6, "YXDOMAIN"}, {7, "YXRRSET"}, {8, "NXRRSET"}, {9, "NOTAUTH"}, {10, "NOTZONE"}, {11, "DSOTYPENI"},
	{16, "BADSIG"}, {17, "BADKEY"}, {18, "BADTIME"}, {19, "BADMODE"}, {20, "BADNAME"}, {21, "BADALG"},
	{22, "BADTRUNC"}, {23, "BADCOOKIE"},
}

// rcodeName is an rcode's mnemonic, or RCODEnnn.
func rcodeName(rc int) string {
	if rc >= 0 && rc <= 0xFFFF {
		if s, ok := lookup(rcodeNames[:], uint16(rc)); ok {
			return s
		}
	}
	return "RCODE" + strconv.Itoa(rc)
}

// rcodeByName finds an rcode by its mnemonic (and NOTIMPL, which miekg
// accepts for NOTIMP).
func rcodeByName(s string) (int, bool) {
	if s == "NOTIMPL" {
		return 4, true
	}
	for _, e := range rcodeNames {
		if e.name == s {
			return int(e.n), true
		}
	}
	return 0, false
}

// DNSSEC algorithms (CERT records, the EDNS DAU option).
var algorithmNames = [...]named{
	{1, "RSAMD5"}, {2, "DH"}, {3, "DSA"}, {5, "RSASHA1"}, {6, "DSA-NSEC3-SHA1"}, {7, "RSASHA1-NSEC3-SHA1"},
	{8, "RSASHA256"}, {10, "RSASHA512"}, {12, "ECC-GOST"}, {13, "ECDSAP256SHA256"}, {14, "ECDSAP384SHA384"},
	{15, "ED25519"}, {16, "ED448"}, {252, "INDIRECT"}, {253, "PRIVATEDNS"}, {254, "PRIVATEOID"},
}

// Digest types (the EDNS DHU and N3U options).
var hashNames = [...]named{{1, "SHA1"}, {2, "SHA256"}, {3, "GOST94"}, {4, "SHA384"}, {5, "SHA512"}}

// Certificate types of CERT records.
var certTypeNames = [...]named{
	{1, "PKIX"}, {2, "SPKI"}, {3, "PGP"}, {4, "IPIX"}, {5, "ISPKI"}, {6, "IPGP"}, {7, "ACPKIX"},
	{8, "IACPKIX"}, {253, "URI"}, {254, "OID"},
}

// Extended DNS errors (RFC 8914), by info code.
var edeNames = [...]string{
	"Other", "Unsupported DNSKEY Algorithm", "Unsupported DS Digest Type", "Stale Answer",
	"Forged Answer", "DNSSEC Indeterminate", "DNSSEC Bogus", "Signature Expired",
	"Signature Not Yet Valid", "DNSKEY Missing", "RRSIGs Missing", "No Zone Key Bit Set",
	"NSEC Missing", "Cached Error", "Not Ready", "Blocked", "Censored", "Filtered", "Prohibited",
	"Stale NXDOMAIN Answer", "Not Authoritative", "Not Supported", "No Reachable Authority",
	"Network Error", "Invalid Data", "Signature Expired Before Valid", "Too Early",
	"Unsupported NSEC3 Iterations Value", "Unable To Conform To Policy", "Synthesized",
	"Invalid Query Type",
}

// Keys of SVCB and HTTPS parameters.
var svcbKeyNames = [...]string{"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"}

func svcbKeyString(k uint16) string {
	if int(k) < len(svcbKeyNames) {
		return svcbKeyNames[k]
	}
	return "key" + strconv.Itoa(int(k))
}
