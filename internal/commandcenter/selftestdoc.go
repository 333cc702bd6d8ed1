package commandcenter

// The self-test's checks, for the operator: what each checks and, for each
// way it warns or fails, what to do. The self-test's messages quote the
// advice below, and the troubleshooting page is generated from this
// table, so the two say the same.

// The advice the self-test gives, quoted in its messages.
const (
	adviceCloudURL     = "give the cloud's https:// uplink URL, not the dashboard's address"
	adviceProxyEnv     = "fix HTTPS_PROXY, https_proxy or NO_PROXY in the Command Center's environment"
	adviceProxyAuth    = "it wants a user and password (HTTPS_PROXY=http://user:password@host:port)"
	adviceFirewall     = "is outbound TCP %s allowed by the firewall?"
	adviceInspecting   = "behind a TLS-inspecting proxy? then give its CA with the CA file"
	adviceCertHost     = "check the host name of the cloud URL"
	adviceClockCert    = "is this computer's clock right?"
	adviceRenew        = "renew it"
	adviceClockFail    = "set the clock (NTP)"
	adviceClockWarn    = "check NTP"
	adviceNoPrinters   = "the Command Center pairs with each printer given by -printer host:port at its start"
	adviceUnreachable  = "is the printer on, its host name or address right, and its port open to this computer?"
	advicePinChanged   = "collection stops until the operator compares the new certificate with the printer's panel and confirms it at the Command Center's next start with -printer ADDRESS"
	advicePairAt       = "confirm this Command Center's fingerprint %s at the printer"
	adviceLocalPort    = "free a port of the range or choose others with -ui-ports"
	adviceLocalRunning = "is the Command Center running? its log says why the local UI stopped"
	adviceSleep        = "to prevent it: systemctl mask"
	adviceStale        = "run fusionfleet commandcenter check for the cloud's reachability and see the upload log on the local UI"
)

// CheckDoc describes one check of the self-test.
type CheckDoc struct {
	// Name is the check's name in the report; the printer check's name is
	// followed by each printer's name.
	Name string
	// Checks says what it checks.
	Checks string
	// Problems are the ways it warns or fails.
	Problems []CheckProblem
}

// CheckProblem is one way a check warns or fails and what to do about it.
type CheckProblem struct {
	Status CheckStatus
	Says   string // what the report says, in short
	Advice string // what to do; %s stands for a value in the report
}

// SelfTestChecks returns the self-test's checks in the order of its
// report.
func SelfTestChecks() []CheckDoc {
	return []CheckDoc{
		{checkProxy, "The proxy the environment (HTTPS_PROXY, NO_PROXY) selects for the cloud URL, and that it opens a tunnel (CONNECT) to the cloud.", []CheckProblem{
			{CheckFailed, "the proxy setting of the environment is invalid", adviceProxyEnv},
			{CheckFailed, "the proxy refused to open a tunnel: 407 Proxy Authentication Required", adviceProxyAuth},
			{CheckFailed, "the proxy does not work (cannot connect to it, TLS with it failed, an answer that is not HTTP/1.x)", adviceProxyEnv},
			{CheckWarning, "not checked: no valid cloud URL", adviceCloudURL},
		}},
		{checkReach, "A TCP connection to the cloud's host and port (443 unless the URL says otherwise), directly or through the proxy.", []CheckProblem{
			{CheckFailed, "no cloud URL is configured, or the cloud URL is not an https:// URL with a host", adviceCloudURL},
			{CheckFailed, "cannot connect to the cloud", adviceFirewall},
			{CheckFailed, "not reached through the proxy", "see the proxy check"},
		}},
		{checkCert, "The TLS handshake with the cloud: its certificate chain verified against the system roots or the CA file, for the cloud's host name, and its expiry.", []CheckProblem{
			{CheckFailed, "not signed by a trusted authority", adviceInspecting},
			{CheckFailed, "the certificate is not for this host", adviceCertHost},
			{CheckFailed, "expired or not yet valid", adviceClockCert},
			{CheckWarning, "its chain expires within 30 days", adviceRenew},
			{CheckWarning, "not checked: the cloud was not reached", "see the cloud reachable check"},
		}},
		{checkSkew, "This computer's clock against the Date header of the cloud's answer to one HEAD request.", []CheckProblem{
			{CheckFailed, "the clock is more than 5 minutes off: the cloud refuses uploads", adviceClockFail},
			{CheckWarning, "the clock is more than a minute off", adviceClockWarn},
			{CheckWarning, "not checked: no verified connection to the cloud, or no Date header in its answer", "see the cloud certificate check"},
		}},
		{checkPrinterAt, "Each printer of the Command Center's data directory: reachable, presenting its pinned certificate, and, once the Command Center has its client certificate, having paired it.", []CheckProblem{
			{CheckFailed, "unreachable", adviceUnreachable},
			{CheckFailed, "presents a certificate other than the pinned one", advicePinChanged},
			{CheckFailed, "has not paired this Command Center", advicePairAt},
			{CheckWarning, "presents its pinned certificate, but reading its status failed", "see the printer's own self-test (GET /v1/selftest) and the Command Center's log"},
		}},
		{checkPrinters, "Whether any printer is paired at all (instead of the printer checks).", []CheckProblem{
			{CheckWarning, "no printers are paired yet", adviceNoPrinters},
		}},
		{checkLocalUI, "That the local UI can take a port of -ui-ports (8080–8090 by default), or, beside a running Command Center, that its local UI answers.", []CheckProblem{
			{CheckFailed, "the local UI cannot take a port", adviceLocalPort},
			{CheckFailed, "the local UI does not answer", adviceLocalRunning},
		}},
		{checkSleep, "That the host cannot sleep: every systemd sleep target (sleep, suspend, hibernate, hybrid-sleep) masked. It only reads.", []CheckProblem{
			{CheckWarning, "this computer may sleep, and collection stops while it does", adviceSleep + " sleep.target suspend.target hibernate.target hybrid-sleep.target"},
			{CheckWarning, "unknown (no systemd)", "make sure this computer never sleeps"},
		}},
		{checkUplink, "When the cloud last acknowledged an upload (only where the Command Center has run).", []CheckProblem{
			{CheckWarning, "the cloud has not acknowledged an upload yet, or not for more than 15 minutes", adviceStale},
		}},
	}
}
