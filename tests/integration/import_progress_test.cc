// Images.ImportWithProgress against a real quiltd, and `quilt-cli image import` drawing its
// progress line on a terminal (and only there).
#include <signal.h>
#include <sys/stat.h>

#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "pty_session.h"
#include "quiltd_fixture.h"
#include "tar_builder.h"

namespace quilt::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// Enough files that unpacking takes several 100 ms progress intervals even from the page
// cache (creating files is what takes time: one 96 MiB file unpacks in ~50 ms, its reading
// and hashing on a thread of their own), incompressible so that the file is that large.
constexpr size_t kPayloadBytes = size_t{96} << 20;
constexpr size_t kPayloadFiles = 2048;

struct Streamed {
  std::vector<v1::ImportProgress> progress;
  std::optional<v1::ImportResponse> result;
  int messages_after_result = 0;
  grpc::Status status;
};

class ImportProgressTest : public QuiltdTest {
 protected:
  // A tar of kPayloadFiles incompressible files (different seeds, different images).
  std::string BigTar(const std::string& name, unsigned seed) {
    std::mt19937_64 random(seed);
    std::string data(kPayloadBytes, '\0');
    for (size_t i = 0; i + 8 <= data.size(); i += 8) {
      const uint64_t word = random();
      memcpy(&data[i], &word, 8);
    }
    const std::string path = dir_ + "/" + name;
    TarBuilder tar(path);
    const size_t each = kPayloadBytes / kPayloadFiles;
    for (size_t i = 0; i < kPayloadFiles; ++i) {
      tar.File("payload-" + std::to_string(i), data.substr(i * each, each));
    }
    EXPECT_TRUE(tar.Close().ok());
    return path;
  }

  static int64_t FileSize(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
  }

  Streamed StreamImport(const v1::ImportRequest& request) {
    Streamed out;
    grpc::ClientContext context;
    auto reader = images_->ImportWithProgress(&context, request);
    v1::ImportWithProgressResponse message;
    while (reader->Read(&message)) {
      if (out.result.has_value()) ++out.messages_after_result;
      if (message.has_progress()) out.progress.push_back(message.progress());
      if (message.has_result()) out.result = message.result();
    }
    out.status = reader->Finish();
    return out;
  }

  grpc::Status UnaryImport(const v1::ImportRequest& request, v1::ImportResponse* response) {
    grpc::ClientContext context;
    return images_->Import(&context, request, response);
  }

  static v1::ImportRequest Request(const std::string& path, const std::string& name = "") {
    v1::ImportRequest request;
    request.set_path(path);
    request.set_name(name);
    return request;
  }

  std::unique_ptr<PtySession> CliOnTerminal(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {QUILT_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    auto session = std::make_unique<PtySession>(
        argv, std::vector<std::string>{"QUILT_SOCKET=" + socket_}, 24, 100);
    EXPECT_TRUE(session->started());
    return session;
  }

  // Entries of the image store's directory other than the shared layers directory.
  std::vector<std::string> StoreEntries() const {
    CommandResult r = RunCommand({"/bin/ls", "-A", state_dir_ + "/images"});
    std::vector<std::string> names =
        absl::StrSplit(absl::StripTrailingAsciiWhitespace(r.out), '\n', absl::SkipEmpty());
    std::erase(names, "layers");
    return names;
  }

  int ImageCount() {
    grpc::ClientContext context;
    v1::ListImagesResponse list;
    EXPECT_TRUE(images_->ListImages(&context, v1::ListImagesRequest(), &list).ok());
    return list.images_size();
  }
};

TEST_F(ImportProgressTest, StreamCountsUpToTheTotalAndEndsWithImportsAnswer) {
  const std::string tar = BigTar("big.tar", 1);
  const int64_t size = FileSize(tar);
  Streamed streamed = StreamImport(Request(tar, "big"));
  ASSERT_TRUE(streamed.status.ok()) << streamed.status.error_message();
  ASSERT_TRUE(streamed.result.has_value());
  EXPECT_EQ(streamed.messages_after_result, 0);
  EXPECT_TRUE(streamed.result->unpacked());

  // Unpacking, then syncing; the one pass counts from 0 up to the file's size.
  ASSERT_GE(streamed.progress.size(), 3u);
  EXPECT_EQ(streamed.progress.front().phase(), v1::IMPORT_PHASE_UNPACKING);
  EXPECT_EQ(streamed.progress.back().phase(), v1::IMPORT_PHASE_SYNCING);
  int64_t last = -1;
  v1::ImportPhase pass = v1::IMPORT_PHASE_UNSPECIFIED;
  int between = 0;  // counts strictly between 0 and the total: the bar really moved
  for (const v1::ImportProgress& p : streamed.progress) {
    EXPECT_EQ(p.bytes_total(), size);
    EXPECT_EQ(p.layer(), 0);
    if (p.phase() != v1::IMPORT_PHASE_SYNCING && p.phase() != pass) {
      // The pass starts.
      EXPECT_EQ(p.bytes_done(), 0);
      EXPECT_EQ(last, pass == v1::IMPORT_PHASE_UNSPECIFIED ? -1 : size)
          << "a pass ends at its total";
      pass = p.phase();
    } else {
      EXPECT_GE(p.bytes_done(), last) << "bytes went down within a pass";
    }
    between += p.bytes_done() > 0 && p.bytes_done() < size;
    last = p.bytes_done();
  }
  EXPECT_EQ(pass, v1::IMPORT_PHASE_UNPACKING);
  EXPECT_EQ(last, size);
  EXPECT_GE(between, 1);

  // The same answer as Import gives for the same file (now already in the store)...
  v1::ImportResponse unary;
  ASSERT_TRUE(UnaryImport(Request(tar, "big"), &unary).ok());
  EXPECT_FALSE(unary.unpacked());
  EXPECT_EQ(unary.image().SerializeAsString(), streamed.result->image().SerializeAsString());
  // ...and streaming it again answers exactly what Import did, reading nothing: the file is
  // the one imported before, unchanged.
  Streamed again = StreamImport(Request(tar, "big"));
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  ASSERT_TRUE(again.result.has_value());
  EXPECT_EQ(again.result->SerializeAsString(), unary.SerializeAsString());
  EXPECT_THAT(again.progress, ::testing::IsEmpty());
}

TEST_F(ImportProgressTest, ErrorsKeepImportsCodes) {
  const std::string junk = dir_ + "/junk.tar";
  ASSERT_EQ(RunCommand({"/bin/sh", "-c", "echo not an archive > " + junk}).exit_code, 0);
  for (const v1::ImportRequest& request : {Request(dir_ + "/missing.tar"), Request(junk),
                                           Request(junk, "bad name!"), Request("relative.tar")}) {
    v1::ImportResponse unary_response;
    const grpc::Status unary = UnaryImport(request, &unary_response);
    Streamed streamed = StreamImport(request);
    EXPECT_FALSE(unary.ok());
    EXPECT_EQ(streamed.status.error_code(), unary.error_code()) << request.path();
    EXPECT_EQ(streamed.status.error_message(), unary.error_message());
    EXPECT_FALSE(streamed.result.has_value());
  }
  EXPECT_EQ(ImageCount(), 0);
}

TEST_F(ImportProgressTest, CliDrawsTheBarOnATerminalOnly) {
  const std::string tar = BigTar("big.tar", 2);
  auto session = CliOnTerminal({"image", "import", tar});
  ASSERT_EQ(session->Wait(absl::Seconds(120)), 0) << session->output();
  const std::string& shown = session->output();
  // Redrawn in place: carriage returns, a percent, a rate, the phases.
  EXPECT_THAT(shown, HasSubstr("\r"));
  EXPECT_THAT(shown, ContainsRegex("[0-9]+%"));
  EXPECT_THAT(shown, ContainsRegex("[0-9.]+ MB/s"));
  EXPECT_THAT(shown, HasSubstr("unpacking"));
  EXPECT_THAT(shown, HasSubstr("/ 101.7 MB"));
  // Cleared, then the summary and the digest, each on a line of its own.
  std::vector<std::string> lines = absl::StrSplit(shown, "\r\n", absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << shown;
  EXPECT_THAT(lines.back(), ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
  EXPECT_THAT(lines[lines.size() - 2],
              ContainsRegex("\r\x1b\\[Kimported 101\\.7 MB in [0-9.]+s \\([0-9.]+ MB/s\\)$"));
  // Piped: no bar, no summary; the same output as ever.
  const std::string other = BigTar("other.tar", 3);
  CommandResult piped = Cli({"image", "import", other});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err, "");
  EXPECT_THAT(piped.out, ::testing::MatchesRegex("sha256:[0-9a-f]{64}\n"));
  CommandResult json = Cli({"--json", "image", "import", other});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.err, "");
  EXPECT_THAT(json.out, HasSubstr("\"unpacked\": false"));
}

TEST_F(ImportProgressTest, CtrlCClearsTheBarAndStopsTheImport) {
  const std::string tar = BigTar("big.tar", 4);
  auto session = CliOnTerminal({"image", "import", tar});
  // The first reading comes before a byte is read: freeze quiltd there, so that the import
  // cannot finish before the interrupt, whatever the machine's speed.
  ASSERT_TRUE(session->WaitFor("unpacking")) << session->output();
  ASSERT_EQ(::kill(daemon_pid_, SIGSTOP), 0);
  session->Type("\x03");
  const int code = session->Wait(absl::Seconds(30));
  ::kill(daemon_pid_, SIGCONT);
  EXPECT_EQ(code, 128 + SIGINT) << session->output();
  // The bar is erased before the message, which starts its own line.
  EXPECT_THAT(session->output(), HasSubstr("\r\x1b[Kquilt-cli: import cancelled\r\n"));
  // quiltd stops the import when it resumes: nothing is published, its temp dir goes.
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!StoreEntries().empty() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_THAT(StoreEntries(), ::testing::IsEmpty());
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(ImageCount(), 0);
  EXPECT_THAT(StoreEntries(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace quilt::testing
