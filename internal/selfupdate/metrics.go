package selfupdate

import (
	"github.com/prometheus/client_golang/prometheus"
)

var (
	descInfo = prometheus.NewDesc("fusionfleet_commandcenter_build_info",
		"The running Command Center build: 1, labelled with its version.", []string{"version"}, nil)
	descEnabled = prometheus.NewDesc("fusionfleet_commandcenter_self_update_enabled",
		"1 when the Command Center looks for new builds of itself, 0 when self-update is off.", nil, nil)
	descPending = prometheus.NewDesc("fusionfleet_commandcenter_upgrade_pending",
		"1 while an upgrade to the labelled version is under way (on trial or being swapped), else absent.", []string{"version", "phase"}, nil)
	descLast = prometheus.NewDesc("fusionfleet_commandcenter_upgrade_last_timestamp_seconds",
		"When the last upgrade ended, labelled with its versions and result (committed, rolled back, refused).",
		[]string{"from", "to", "result"}, nil)
	descRefused = prometheus.NewDesc("fusionfleet_commandcenter_upgrades_refused",
		"Releases of the Command Center refused (rolled back or failing their probe), never tried again.", nil, nil)
)

// Describe implements prometheus.Collector.
func (u *Updater) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descEnabled, descPending, descLast, descRefused} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the version, the upgrade under
// way and the last one's outcome, from the marker.
func (u *Updater) Collect(ch chan<- prometheus.Metric) {
	st := u.Status()
	ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, st.Version)
	enabled := 0.0
	if st.Enabled {
		enabled = 1
	}
	ch <- prometheus.MustNewConstMetric(descEnabled, prometheus.GaugeValue, enabled)
	if st.Pending != "" {
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, 1, st.Pending, string(st.Phase))
	}
	if l := st.Last; l != nil {
		ch <- prometheus.MustNewConstMetric(descLast, prometheus.GaugeValue, float64(l.At.Unix()), l.From, l.To, l.Result)
	}
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.GaugeValue, float64(len(st.Refused)))
}
