package mqttfeed

import "github.com/prometheus/client_golang/prometheus"

// Metrics is a prometheus.Collector of a feed's state (R-PEER-4), read at
// scrape time from State: whether it is connected, the messages waiting,
// published and dropped. Register it with a registry of your own.
type Metrics struct {
	f                                     *Feed
	connected, queued, published, dropped *prometheus.Desc
}

// Metrics returns the collector of f's metrics.
func (f *Feed) Metrics() *Metrics {
	return &Metrics{
		f:         f,
		connected: prometheus.NewDesc("fusionfleet_commandcenter_mqtt_connected", "1 while the MQTT feed is connected to its broker, else 0.", nil, nil),
		queued:    prometheus.NewDesc("fusionfleet_commandcenter_mqtt_queued_messages", "Messages of the MQTT feed waiting for the broker's acknowledgement.", nil, nil),
		published: prometheus.NewDesc("fusionfleet_commandcenter_mqtt_published_messages_total", "Messages of the MQTT feed the broker acknowledged.", nil, nil),
		dropped:   prometheus.NewDesc("fusionfleet_commandcenter_mqtt_dropped_messages_total", "Events and job changes dropped from the MQTT feed's full queue.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.connected
	ch <- m.queued
	ch <- m.published
	ch <- m.dropped
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	s := m.f.State()
	connected := 0.0
	if s.Connected {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(s.Queued))
	ch <- prometheus.MustNewConstMetric(m.published, prometheus.CounterValue, float64(s.Published))
	ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(s.Dropped))
}
