package edgefilter

// Reason says why a fix was not handed to the simplifier. The values are
// stable: they are Prometheus label values and appear in logs.
type Reason string

const (
	// ReasonInvalid: fix.Validate failed, or the position is 0,0 (a device
	// without a fix reporting defaults, Traccar filter.zero).
	ReasonInvalid Reason = "invalid"
	// ReasonFuture: stamped more than fix.MaxFuture (24 h) after now.
	ReasonFuture Reason = "future"
	// ReasonTooOld: older than MaxAgeS.
	ReasonTooOld Reason = "too_old"
	// ReasonDuplicate: same timestamp as the last fix seen, or the same
	// position as the last accepted one with no reported movement. In the
	// second case the fix is held as a possible stop end (see Filter.Push).
	ReasonDuplicate Reason = "duplicate"
	// ReasonOutOfOrder: earlier than the last accepted fix. Not in Traccar's
	// list but needed: the forwarded track must be time-ordered.
	ReasonOutOfOrder Reason = "out_of_order"
	// ReasonInaccurate: acc above MaxAccuracyM.
	ReasonInaccurate Reason = "inaccurate"
	// ReasonTooSoon: less than MinIntervalS after the last accepted fix.
	ReasonTooSoon Reason = "too_soon"
	// ReasonTooClose: less than MinDistanceM from the last accepted fix.
	ReasonTooClose Reason = "too_close"
	// ReasonSpeedOutlier: implies a speed above MaxSpeedMS.
	ReasonSpeedOutlier Reason = "speed_outlier"
	// ReasonStationary: drift inside the accuracy radius while not moving;
	// held as a possible stop end like a duplicate position.
	ReasonStationary Reason = "stationary"
)

// Reasons lists every Reason, so metrics can pre-register their labels.
var Reasons = []Reason{
	ReasonInvalid, ReasonFuture, ReasonTooOld, ReasonDuplicate, ReasonOutOfOrder,
	ReasonInaccurate, ReasonTooSoon, ReasonTooClose, ReasonSpeedOutlier, ReasonStationary,
}
