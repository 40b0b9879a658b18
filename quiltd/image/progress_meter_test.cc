#include "quiltd/image/progress_meter.h"

#include <sys/stat.h>

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quiltd/image/archive_extractor.h"
#include "quiltd/image/image_store.h"
#include "quiltd/image/test_archive.h"
#include "quiltd/image/test_image_layout.h"

namespace quilt {
namespace {

using ::quilt::testing::EntryType;
using ::quilt::testing::ListNames;
using ::quilt::testing::ScratchDir;
using ::quilt::testing::TestEntry;
using ::quilt::testing::TestImage;
using ::quilt::testing::WriteOciLayout;
using ::quilt::testing::WriteTestArchive;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct Report {
  ProgressReading reading;
  bool phase_change;
};

// A meter recording every report.
class Recorder {
 public:
  explicit Recorder(absl::Duration interval = absl::ZeroDuration())
      : meter_(
            [this](const ProgressReading& r, bool change) {
              reports_.push_back({r, change});
            },
            interval) {}
  ProgressMeter& meter() { return meter_; }
  const std::vector<Report>& reports() const { return reports_; }

 private:
  std::vector<Report> reports_;
  ProgressMeter meter_;
};

std::string Incompressible(size_t bytes, unsigned seed) {
  std::mt19937 random(seed);
  std::string data(bytes, '\0');
  for (char& c : data) c = static_cast<char>(random());
  return data;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Checks that within each pass (from one StartPass to the next) bytes never go down and
// stay within the total.
void ExpectMonotonePasses(const std::vector<Report>& reports) {
  int64_t last = 0;
  int64_t total = -1;
  for (const Report& r : reports) {
    if (r.reading.bytes_total != total || r.reading.bytes_done < last) {
      EXPECT_EQ(r.reading.bytes_done, 0) << "a pass must start at 0";
      total = r.reading.bytes_total;
    }
    EXPECT_LE(r.reading.bytes_done, r.reading.bytes_total);
    last = r.reading.bytes_done;
  }
}

TEST(ProgressMeterTest, ReportsPhasesAndTicks) {
  Recorder recorder;
  ProgressMeter& meter = recorder.meter();
  meter.StartPass(ImportPhase::kUnpacking, 100);
  EXPECT_TRUE(meter.Advance(40));
  EXPECT_TRUE(meter.Advance(60));
  meter.StartPass(ImportPhase::kUnpacking, 100);
  meter.SetPhase(ImportPhase::kSyncing);
  ASSERT_EQ(recorder.reports().size(), 5u);
  const std::vector<Report>& r = recorder.reports();
  EXPECT_TRUE(r[0].phase_change);
  EXPECT_EQ(r[0].reading.bytes_done, 0);
  EXPECT_EQ(r[0].reading.bytes_total, 100);
  EXPECT_FALSE(r[1].phase_change);
  EXPECT_EQ(r[1].reading.bytes_done, 40);
  EXPECT_EQ(r[2].reading.bytes_done, 100);
  EXPECT_EQ(r[3].reading.phase, ImportPhase::kUnpacking);
  EXPECT_EQ(r[3].reading.bytes_done, 0);
  EXPECT_EQ(r[4].reading.phase, ImportPhase::kSyncing);
}

TEST(ProgressMeterTest, TicksAtMostOncePerIntervalButFlushesAtPassEnd) {
  Recorder recorder(absl::Hours(1));
  ProgressMeter& meter = recorder.meter();
  meter.StartPass(ImportPhase::kUnpacking, 1000);
  for (int i = 0; i < 10; ++i) meter.Advance(100);
  // The interval has not passed: no tick, but the pass's final count is reported before the
  // next pass starts from 0.
  meter.StartPass(ImportPhase::kUnpacking, 1000);
  meter.Flush();  // nothing new
  ASSERT_EQ(recorder.reports().size(), 3u);
  EXPECT_EQ(recorder.reports()[1].reading.bytes_done, 1000);
  EXPECT_FALSE(recorder.reports()[1].phase_change);
  EXPECT_EQ(recorder.reports()[2].reading.phase, ImportPhase::kUnpacking);
}

TEST(ProgressMeterTest, CancelStopsTheReader) {
  ProgressMeter meter;  // reports nowhere
  meter.StartPass(ImportPhase::kUnpacking, 10);
  EXPECT_TRUE(meter.Advance(1));
  meter.Cancel();
  EXPECT_FALSE(meter.Advance(1));
  EXPECT_EQ(meter.reading().bytes_done, 2);
}

TEST(ProgressMeterTest, ExtractionCountsEveryByteOfTheFile) {
  ScratchDir scratch;
  const std::string archive = scratch.Sub("a.tar");
  ASSERT_TRUE(
      WriteTestArchive(archive, {{.path = "big", .data = Incompressible(1 << 20, 1)}}).ok());
  ASSERT_EQ(::mkdir(scratch.Sub("out").c_str(), 0755), 0);
  Recorder recorder;
  recorder.meter().StartPass(ImportPhase::kUnpacking, FileSize(archive));
  ASSERT_TRUE(
      ExtractArchive(archive, scratch.Sub("out"), {}, EntryFormat::kPlainTree, &recorder.meter())
          .ok());
  EXPECT_EQ(recorder.meter().reading().bytes_done, FileSize(archive));
  EXPECT_GT(recorder.reports().size(), 10u);  // one per 64 KiB chunk with no interval
  ExpectMonotonePasses(recorder.reports());
}

class ImportProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ImageStore>> store = ImageStore::Open(scratch_.Sub("state"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string BigTarball(const std::string& name, unsigned seed) {
    const std::string path = scratch_.Sub(name);
    EXPECT_TRUE(
        WriteTestArchive(path, {{.path = "bin/", .type = EntryType::kDir, .mode = 0755},
                                {.path = "bin/blob", .data = Incompressible(1 << 20, seed)}})
            .ok());
    return path;
  }

  std::vector<std::string> ImageEntries() const {
    std::vector<std::string> names = ListNames(scratch_.Sub("state/images"));
    std::erase(names, "layers");
    return names;
  }

  ScratchDir scratch_;
  std::unique_ptr<ImageStore> store_;
};

TEST_F(ImportProgressTest, TarballIsUnpackedThenSynced) {
  const std::string tarball = BigTarball("rootfs.tar", 2);
  const int64_t size = FileSize(tarball);
  Recorder recorder;
  ASSERT_TRUE(store_->Import(tarball, "", "", &recorder.meter()).ok());
  std::vector<ImportPhase> phases;
  for (const Report& r : recorder.reports()) {
    if (r.phase_change) phases.push_back(r.reading.phase);
    EXPECT_EQ(r.reading.bytes_total, size);
    EXPECT_EQ(r.reading.layer, 0);
  }
  EXPECT_THAT(phases, ElementsAre(ImportPhase::kUnpacking, ImportPhase::kSyncing));
  ExpectMonotonePasses(recorder.reports());
  EXPECT_EQ(recorder.reports().back().reading.bytes_done, size);

  // The same file, unchanged, again: nothing is read.
  Recorder again;
  ASSERT_TRUE(store_->Import(tarball, "", "", &again.meter()).ok());
  again.meter().Flush();
  EXPECT_THAT(again.reports(), ::testing::IsEmpty());
}

TEST_F(ImportProgressTest, LayersAreOnePassAndSkippedOnesCount) {
  const std::vector<TestEntry> base = {{.path = "base", .data = Incompressible(300'000, 3)}};
  const std::vector<TestEntry> top = {{.path = "top", .data = Incompressible(200'000, 4)}};
  ASSERT_EQ(::mkdir(scratch_.Sub("oci").c_str(), 0755), 0);
  TestImage first;
  first.layers = {base, top};
  first.tag = "one";
  TestImage second;
  second.layers = {base};
  second.tag = "two";
  ASSERT_TRUE(WriteOciLayout(scratch_.Sub("oci"), {first, second}).ok());

  Recorder two;
  ASSERT_TRUE(store_->Import(scratch_.Sub("oci"), "", "two", &two.meter()).ok());
  Recorder one;
  ASSERT_TRUE(store_->Import(scratch_.Sub("oci"), "", "one", &one.meter()).ok());
  ExpectMonotonePasses(one.reports());
  std::vector<std::pair<ImportPhase, int>> steps;
  for (const Report& r : one.reports()) {
    if (r.phase_change) steps.emplace_back(r.reading.phase, r.reading.layer);
    EXPECT_EQ(r.reading.layer_count, r.reading.layer == 0 ? 0 : 2);
  }
  // The base layer is in the store already: no syncing for it.
  EXPECT_THAT(
      steps,
      ElementsAre(std::pair(ImportPhase::kUnpacking, 0), std::pair(ImportPhase::kUnpacking, 1),
                  std::pair(ImportPhase::kUnpacking, 2), std::pair(ImportPhase::kSyncing, 2),
                  std::pair(ImportPhase::kSyncing, 0)));
  const ProgressReading& last = one.reports().back().reading;
  EXPECT_GT(last.bytes_total, 500'000);  // gzip of incompressible data
  EXPECT_EQ(last.bytes_done, last.bytes_total);
}

TEST_F(ImportProgressTest, CancelledImportLeavesTheStoreUnchanged) {
  const std::string tarball = BigTarball("rootfs.tar", 5);
  // Cancels as soon as unpacking has read something.
  ProgressMeter* self = nullptr;
  ProgressMeter cancelling(
      [&self](const ProgressReading& r, bool) {
        if (r.phase == ImportPhase::kUnpacking && r.bytes_done > 0) self->Cancel();
      },
      absl::ZeroDuration());
  self = &cancelling;
  absl::StatusOr<ImportResult> result = store_->Import(tarball, "x", "", &cancelling);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_THAT(ImageEntries(), IsEmpty());
  EXPECT_THAT(store_->List(), IsEmpty());
}

}  // namespace
}  // namespace quilt
