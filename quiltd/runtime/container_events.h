// The lifecycle events that go with each container state change.
#pragma once

#include <vector>

#include "quiltd/image/image_store.h"
#include "quiltd/store/event_record.h"
#include "quiltd/store/state_store.h"

namespace quilt {

// An event of `type` about `record`, timed now.
EventRecord ContainerEvent(EventType type, const ContainerRecord& record);

// STARTED, timed when the workload started (record.started_at_ns).
EventRecord StartedEvent(const ContainerRecord& record);

// The events for a container that ended: `was` is its state before, `record` its final
// record. A workload that never ran is START_FAILED; one that ran is EXITED (after OOM
// when the kernel killed it for memory), preceded by STARTED when quiltd never recorded
// the start (it was down then). A container already finished gets none, so recording an
// end twice cannot duplicate it.
std::vector<EventRecord> EndEvents(ContainerState was, const ContainerRecord& record);

// An image event, timed now.
EventRecord ImageEvent(EventType type, const ImageRecord& image);

}  // namespace quilt
