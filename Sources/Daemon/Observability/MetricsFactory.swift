public import CoreMetrics
public import Prometheus

/// swift-metrics → Prometheus, with the help texts and buckets of `DaemonMetric`.
///
/// Instrumented code uses the swift-metrics API (`Counter(label:dimensions:)`, `Timer`, …);
/// `ddrouter run` bootstraps `MetricsSystem` with this factory and `/metrics` renders the
/// registry. Metrics that are not in the catalogue (from a library) are exposed as
/// swift-prometheus would, without help text.
public struct DaemonMetricsFactory: MetricsFactory, Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String { registry.emitToString() }

    private static let catalogue: [String: DaemonMetric] = Dictionary(
        uniqueKeysWithValues: DaemonMetric.allCases.map { ($0.name, $0) })

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: Self.catalogue[label]?.help ?? "")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            let buckets = Self.catalogue[label]?.buckets ?? [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
            return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
        }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let seconds = Self.catalogue[label]?.buckets ?? [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]
        let buckets = seconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }
        return registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: buckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        switch handler {
        case let gauge as Prometheus.Gauge: registry.unregisterGauge(gauge)
        case let histogram as Prometheus.ValueHistogram: registry.unregisterValueHistogram(histogram)
        default: break
        }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Prometheus.DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
