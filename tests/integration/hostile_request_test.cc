// Every string and number field of every RPC, given hostile values (empty, 1 MiB, not
// UTF-8, NUL, path-like, out of range): each call fails with INVALID_ARGUMENT naming the
// field, or NOT_FOUND for a well-formed reference to nothing, and nothing is created.
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/stubs/logging.h>
#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "tests/integration/quiltd_fixture.h"
#include "tests/integration/tree_snapshot.h"

namespace quilt::testing {
namespace {

using ::testing::HasSubstr;

const std::string& Huge() {
  static const std::string* huge = new std::string(1 << 20, 'a');
  return *huge;
}
const std::string kNotUtf8 = "bad\xff\xfe";
const std::string kNul = std::string("a\0b", 3);

struct Value {
  std::string label;
  std::string text;
};

// Values no reference, name or path may hold.
std::vector<Value> Malformed() { return {{"huge", Huge()}, {"not_utf8", kNotUtf8}, {"nul", kNul}}; }
// Well-formed references that name nothing.
std::vector<Value> PathLike() {
  return {{"dotdot", "../"}, {"slash", "/"}, {"escape", "../../../etc/passwd"}};
}

enum class Want { kInvalid, kNotFound };

struct Probe {
  std::string what;   // "Rpc field=label", for the failure message
  std::string field;  // the field name the error must carry
  Want want;
  std::function<grpc::Status()> call;
};

class HostileRequestTest : public QuiltdTest {
 protected:
  template <typename Req, typename Resp, typename Stub>
  std::function<grpc::Status()> Unary(
      Stub* stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), Req req) {
    return [stub, method, req]() {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      Resp resp;
      return (stub->*method)(&ctx, req, &resp);
    };
  }

  std::function<grpc::Status()> Logs(v1::LogsRequest req) {
    return [this, req]() {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      auto reader = containers_->Logs(&ctx, req);
      v1::LogsResponse resp;
      while (reader->Read(&resp)) {
      }
      return reader->Finish();
    };
  }

  // An Exec stream of one `start` and a half-close.
  std::function<grpc::Status()> Exec(v1::ExecStart start) {
    return [this, start]() {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      auto stream = containers_->Exec(&ctx);
      v1::ExecRequest req;
      *req.mutable_start() = start;
      stream->Write(req);
      stream->WritesDone();
      v1::ExecResponse resp;
      while (stream->Read(&resp)) {
      }
      return stream->Finish();
    };
  }

  // The RPCs taking only a container or image reference, with `ref` set.
  void AddRefProbes(const std::string& label, const std::string& ref, Want want,
                    std::vector<Probe>& probes) {
    auto add = [&](const std::string& rpc, std::function<grpc::Status()> call) {
      probes.push_back({rpc + " ref=" + label, "ref", want, std::move(call)});
    };
    auto* c = containers_.get();
    using S = v1::Containers::Stub;
    v1::StartRequest start;
    start.set_ref(ref);
    add("Start", Unary(c, &S::Start, start));
    v1::GetRequest get;
    get.set_ref(ref);
    add("Get", Unary(c, &S::Get, get));
    v1::WaitRequest wait;
    wait.set_ref(ref);
    add("Wait", Unary(c, &S::Wait, wait));
    v1::StopRequest stop;
    stop.set_ref(ref);
    add("Stop", Unary(c, &S::Stop, stop));
    v1::KillRequest kill;
    kill.set_ref(ref);
    add("Kill", Unary(c, &S::Kill, kill));
    v1::RemoveRequest rm;
    rm.set_ref(ref);
    rm.set_force(true);
    add("Remove", Unary(c, &S::Remove, rm));
    v1::StatsRequest stats;
    stats.set_ref(ref);
    add("Stats", Unary(c, &S::Stats, stats));
    v1::LogsRequest logs;
    logs.set_ref(ref);
    add("Logs", Logs(logs));
    v1::ExecStart exec;
    exec.set_ref(ref);
    exec.add_command("true");
    add("Exec", Exec(exec));
    v1::RemoveImageRequest rmi;
    rmi.set_ref(ref);
    add("RemoveImage", Unary(images_.get(), &v1::Images::Stub::RemoveImage, rmi));
  }

  // Create with a valid spec changed by `edit`.
  void AddSpecProbe(const std::string& what, const std::string& field,
                    const std::function<void(v1::ContainerSpec&)>& edit, std::vector<Probe>& probes,
                    Want want = Want::kInvalid) {
    v1::CreateRequest req;
    *req.mutable_spec() = Spec({"true"});
    req.set_start(true);
    edit(*req.mutable_spec());
    probes.push_back({"Create " + what, field, want,
                      Unary(containers_.get(), &v1::Containers::Stub::Create, req)});
  }

  // A repeated or single string field of the spec, given each malformed value.
  void AddSpecStringProbes(const std::string& field,
                           const std::function<void(v1::ContainerSpec&, const std::string&)>& set,
                           const std::vector<Value>& values, std::vector<Probe>& probes) {
    for (const Value& v : values) {
      AddSpecProbe(
          field + "=" + v.label, field, [&](v1::ContainerSpec& s) { set(s, v.text); }, probes);
    }
  }

  std::vector<Probe> SpecProbes() {
    std::vector<Probe> p;
    std::vector<Value> bad = Malformed();
    std::vector<Value> bad_path = Malformed();
    bad_path.push_back({"empty_relative", "relative/dir"});
    bad_path.push_back({"dotdot", "/a/../../etc"});
    std::vector<Value> bad_name = Malformed();
    bad_name.insert(bad_name.end(), {{"dotdot", "../"}, {"slash", "/"}, {"dash", "-x"}});
    AddSpecStringProbes(
        "spec.name", [](auto& s, auto& v) { s.set_name(v); }, bad_name, p);
    AddSpecStringProbes(
        "spec.image", [](auto& s, auto& v) { s.set_image(v); }, bad, p);
    AddSpecStringProbes(
        "spec.command[0]", [](auto& s, auto& v) { s.set_command(0, v); }, bad, p);
    AddSpecStringProbes(
        "spec.command[0]", [](auto& s, auto& v) { s.set_command(0, v); }, {{"empty", ""}}, p);
    AddSpecProbe(
        "command=[]", "spec.command", [](auto& s) { s.clear_command(); }, p);
    std::vector<Value> bad_env = bad;
    bad_env.insert(bad_env.end(), {{"no_equals", "PATH"}, {"empty_key", "=x"}, {"empty", ""}});
    AddSpecStringProbes(
        "spec.env[0]", [](auto& s, auto& v) { s.add_env(v); }, bad_env, p);
    AddSpecStringProbes(
        "spec.working_dir", [](auto& s, auto& v) { s.set_working_dir(v); }, bad_path, p);
    AddSpecStringProbes(
        "spec.user", [](auto& s, auto& v) { s.set_user(v); }, bad, p);
    std::vector<Value> bad_host = bad_name;
    bad_host.push_back({"too_long", std::string(65, 'h')});
    AddSpecStringProbes(
        "spec.hostname", [](auto& s, auto& v) { s.set_hostname(v); }, bad_host, p);
    std::vector<Value> bad_setup = bad;
    bad_setup.push_back({"empty", ""});
    AddSpecStringProbes(
        "spec.setup[0]", [](auto& s, auto& v) { s.add_setup(v); }, bad_setup, p);
    std::vector<Value> bad_mount = bad_path;
    bad_mount.push_back({"empty", ""});
    AddSpecStringProbes(
        "spec.mounts[0].source",
        [](auto& s, auto& v) {
          auto* m = s.add_mounts();
          m->set_source(v);
          m->set_destination("/mnt");
        },
        bad_mount, p);
    bad_mount.push_back({"root", "/"});
    AddSpecStringProbes(
        "spec.mounts[0].destination",
        [](auto& s, auto& v) {
          auto* m = s.add_mounts();
          m->set_source("/tmp");
          m->set_destination(v);
        },
        bad_mount, p);
    std::vector<Value> bad_cap = bad;
    bad_cap.insert(bad_cap.end(), {{"unknown", "NOPE"}, {"empty", ""}, {"dotdot", "../"}});
    AddSpecStringProbes(
        "spec.cap_add[0]", [](auto& s, auto& v) { s.add_cap_add(v); }, bad_cap, p);
    AddSpecStringProbes(
        "spec.cap_drop[0]", [](auto& s, auto& v) { s.add_cap_drop(v); }, bad_cap, p);
    std::vector<Value> bad_seccomp = bad;
    bad_seccomp.insert(bad_seccomp.end(), {{"unknown", "strict"}, {"path", "/etc/profile.json"}});
    AddSpecStringProbes(
        "spec.seccomp", [](auto& s, auto& v) { s.set_seccomp(v); }, bad_seccomp, p);
    for (int64_t m : {int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min()}) {
      AddSpecProbe(
          absl::StrCat("memory_bytes=", m), "spec.resources.memory_bytes",
          [m](auto& s) { s.mutable_resources()->set_memory_bytes(m); }, p);
    }
    for (double c : {-1.0, 0.001, 1e9, std::nan(""), std::numeric_limits<double>::infinity()}) {
      AddSpecProbe(
          absl::StrCat("cpus=", c), "spec.resources.cpus",
          [c](auto& s) { s.mutable_resources()->set_cpus(c); }, p);
    }
    for (int64_t n : {int64_t{-2}, int64_t{1} << 23, std::numeric_limits<int64_t>::max()}) {
      AddSpecProbe(
          absl::StrCat("pids_max=", n), "spec.resources.pids_max",
          [n](auto& s) { s.mutable_resources()->set_pids_max(n); }, p);
    }
    AddSpecProbe(
        "network=99", "spec.network",
        [](auto& s) { s.set_network(static_cast<v1::NetworkMode>(99)); }, p);
    AddSpecProbe(
        "mounts=129", "spec.mounts",
        [](auto& s) {
          for (int i = 0; i < 129; ++i) {
            auto* m = s.add_mounts();
            m->set_source("/tmp");
            m->set_destination(absl::StrCat("/m", i));
          }
        },
        p);
    AddSpecProbe(
        "image=unknown", "no such image", [](auto& s) { s.set_image("../nope"); }, p,
        Want::kNotFound);
    return p;
  }

  std::vector<Probe> OtherProbes() {
    std::vector<Probe> p;
    auto* c = containers_.get();
    using S = v1::Containers::Stub;
    for (int sig : {-1, 65, std::numeric_limits<int>::max(), std::numeric_limits<int>::min()}) {
      v1::KillRequest kill;
      kill.set_ref("nope");
      kill.set_signal(sig);
      p.push_back(
          {absl::StrCat("Kill signal=", sig), "signal", Want::kInvalid, Unary(c, &S::Kill, kill)});
      v1::StopRequest stop;
      stop.set_ref("nope");
      stop.set_signal(sig);
      p.push_back(
          {absl::StrCat("Stop signal=", sig), "signal", Want::kInvalid, Unary(c, &S::Stop, stop)});
    }
    for (int t : {-1, std::numeric_limits<int>::max(), std::numeric_limits<int>::min()}) {
      v1::StopRequest stop;
      stop.set_ref("nope");
      stop.set_timeout_seconds(t);
      p.push_back({absl::StrCat("Stop timeout=", t), "timeout_seconds", Want::kInvalid,
                   Unary(c, &S::Stop, stop)});
      v1::ExecStart exec;
      exec.set_ref("nope");
      exec.add_command("true");
      exec.set_timeout_seconds(t);
      p.push_back(
          {absl::StrCat("Exec timeout=", t), "timeout_seconds", Want::kInvalid, Exec(exec)});
    }
    for (const Value& v : Malformed()) {
      v1::ListRequest list;
      list.set_name_contains(v.text);
      p.push_back({"List name_contains=" + v.label, "name_contains", Want::kInvalid,
                   Unary(c, &S::List, list)});
    }
    v1::ListRequest bad_state;
    bad_state.set_state(static_cast<v1::ContainerState>(99));
    p.push_back({"List state=99", "state", Want::kInvalid, Unary(c, &S::List, bad_state)});
    v1::LogsRequest logs;
    logs.set_ref("nope");
    logs.set_tail(-1);
    p.push_back({"Logs tail=-1", "tail", Want::kInvalid, Logs(logs)});
    logs.clear_tail();
    logs.set_stream(static_cast<v1::LogStream>(99));
    p.push_back({"Logs stream=99", "stream", Want::kInvalid, Logs(logs)});
    logs.clear_stream();
    logs.mutable_since()->set_nanos(-5);
    p.push_back({"Logs since.nanos=-5", "since", Want::kInvalid, Logs(logs)});
    logs.mutable_since()->set_nanos(0);
    logs.mutable_since()->set_seconds(std::numeric_limits<int64_t>::max());
    p.push_back({"Logs since.seconds=max", "since", Want::kInvalid, Logs(logs)});
    std::vector<Value> exec_values = Malformed();
    exec_values.push_back({"empty", ""});
    for (const Value& v : exec_values) {
      v1::ExecStart exec;
      exec.set_ref("nope");
      exec.add_command(v.text);
      p.push_back({"Exec command[0]=" + v.label, "command[0]", Want::kInvalid, Exec(exec)});
      exec.set_command(0, "true");
      exec.add_env(v.text);
      p.push_back({"Exec env[0]=" + v.label, "env[0]", Want::kInvalid, Exec(exec)});
      exec.clear_env();
      exec.set_working_dir(v.text.empty() ? "relative" : v.text);
      p.push_back({"Exec working_dir=" + v.label, "working_dir", Want::kInvalid, Exec(exec)});
      exec.clear_working_dir();
      if (v.text.empty()) continue;
      exec.set_user(v.text);
      p.push_back({"Exec user=" + v.label, "user", Want::kInvalid, Exec(exec)});
    }
    v1::ExecStart no_command;
    no_command.set_ref("nope");
    p.push_back({"Exec command=[]", "command", Want::kInvalid, Exec(no_command)});
    std::vector<Value> import_paths = Malformed();
    import_paths.insert(import_paths.end(), {{"empty", ""},
                                             {"relative", "image.tar"},
                                             {"dotdot", "/tmp/../etc/passwd"},
                                             {"root", "/"},
                                             {"dev", "/dev/zero"}});
    for (const Value& v : import_paths) {
      v1::ImportRequest imp;
      imp.set_path(v.text);
      p.push_back({"Import path=" + v.label, "path", Want::kInvalid,
                   Unary(images_.get(), &v1::Images::Stub::Import, imp)});
    }
    v1::ImportRequest missing;
    missing.set_path("/nonexistent/image.tar");
    p.push_back({"Import path=missing", "path", Want::kNotFound,
                 Unary(images_.get(), &v1::Images::Stub::Import, missing)});
    std::vector<Value> import_names = Malformed();
    import_names.insert(import_names.end(), {{"dotdot", "../"}, {"slash", "a/b"}});
    for (const Value& v : import_names) {
      v1::ImportRequest imp;
      imp.set_path("/nonexistent/image.tar");
      imp.set_name(v.text);
      p.push_back({"Import name=" + v.label, "name", Want::kInvalid,
                   Unary(images_.get(), &v1::Images::Stub::Import, imp)});
    }
    return p;
  }
};

TEST_F(HostileRequestTest, EveryFieldIsCheckedAndNothingIsCreated) {
  // The default image a command-less Create imports, and its removal below, are recorded as
  // events in the store; its rows are checked through List and ListImages instead. The
  // daemon's prestarted containers and its trash come and go on their own.
  const std::set<std::string> skip = {"quiltd.log",   "quilt.db", "quilt.db-wal",
                                      "quilt.db-shm", "spares",   "trash"};
  const TreeSnapshot before = SnapshotTree(state_dir_, skip);
  std::vector<Probe> probes;
  AddRefProbes("empty", "", Want::kInvalid, probes);
  for (const Value& v : Malformed()) AddRefProbes(v.label, v.text, Want::kInvalid, probes);
  for (const Value& v : PathLike()) AddRefProbes(v.label, v.text, Want::kNotFound, probes);
  for (Probe& p : SpecProbes()) probes.push_back(std::move(p));
  for (Probe& p : OtherProbes()) probes.push_back(std::move(p));

  for (const Probe& probe : probes) {
    const grpc::Status status = probe.call();
    if (probe.want == Want::kInvalid) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
          << probe.what << ": " << status.error_message();
      EXPECT_THAT(status.error_message(), HasSubstr(probe.field + ":"))
          << probe.what << " should name the field";
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND)
          << probe.what << ": " << status.error_message();
    }
    // Errors are for people: no 1 MiB echo of the input.
    EXPECT_LT(status.error_message().size(), 1024u) << probe.what;
  }
  std::cout << probes.size() << " hostile requests\n";

  v1::ListRequest all;
  all.set_all(true);
  v1::ListResponse listed;
  grpc::ClientContext list_ctx;
  ASSERT_TRUE(containers_->List(&list_ctx, all, &listed).ok());
  EXPECT_EQ(listed.containers_size(), 0);
  // Only a Create with no command may have imported the default image: whether a command is
  // missing depends on the image's config (Entrypoint, Cmd), so the image is resolved first.
  v1::RemoveImageRequest remove_default;
  remove_default.set_ref("default");
  v1::RemoveImageResponse removed;
  grpc::ClientContext remove_ctx;
  const grpc::Status remove_status = images_->RemoveImage(&remove_ctx, remove_default, &removed);
  EXPECT_TRUE(remove_status.ok() || remove_status.error_code() == grpc::StatusCode::NOT_FOUND)
      << remove_status.error_message();
  v1::ListImagesResponse images;
  grpc::ClientContext images_ctx;
  ASSERT_TRUE(images_->ListImages(&images_ctx, v1::ListImagesRequest(), &images).ok());
  EXPECT_EQ(images.images_size(), 0);
  EXPECT_EQ(DiffSnapshots(before, SnapshotTree(state_dir_, skip)), "");
  // The daemon is still fine.
  grpc::ClientContext version_ctx;
  v1::VersionResponse version;
  EXPECT_TRUE(system_->Version(&version_ctx, v1::VersionRequest(), &version).ok());
}

// Strings that are not UTF-8, sent as raw bytes (protobuf refuses to parse them, so gRPC's
// generated handlers never saw them): every string field of every request of every RPC.

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::MethodDescriptor;

// A string field of a request type: the fields from the top down to it.
using FieldChain = std::vector<const FieldDescriptor*>;

void CollectStringFields(const Descriptor& type, FieldChain& chain, std::vector<FieldChain>& out) {
  if (chain.size() > 8) return;  // a message type that holds itself
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    chain.push_back(field);
    if (field->is_map()) {
      ADD_FAILURE() << field->full_name() << " is a map: this test does not plant map keys yet";
    } else if (field->type() == FieldDescriptor::TYPE_STRING) {
      out.push_back(chain);
    } else if (field->type() == FieldDescriptor::TYPE_MESSAGE) {
      CollectStringFields(*field->message_type(), chain, out);
    }
    chain.pop_back();
  }
}

// Puts kNotUtf8 into the string at the end of `chain`, after a valid element in every
// repeated field on the way; returns its path as quiltd names it ("spec.mounts[1].source").
std::string Plant(Message* message, const FieldChain& chain) {
  std::string path;
  for (size_t i = 0; i < chain.size(); ++i) {
    const FieldDescriptor* field = chain[i];
    const google::protobuf::Reflection& reflection = *message->GetReflection();
    const bool last = i + 1 == chain.size();
    absl::StrAppend(&path, path.empty() ? "" : ".", field->name(),
                    field->is_repeated() ? "[1]" : "");
    if (field->is_repeated() && last) {
      reflection.AddString(message, field, "ok");
      reflection.AddString(message, field, kNotUtf8);
    } else if (field->is_repeated()) {
      reflection.AddMessage(message, field);
      message = reflection.AddMessage(message, field);
    } else if (last) {
      reflection.SetString(message, field, kNotUtf8);
    } else {
      message = reflection.MutableMessage(message, field);
    }
  }
  return path;
}

std::string Wire(const Message& message) {
  google::protobuf::LogSilencer quiet;  // protobuf logs every string that is not UTF-8
  return message.SerializeAsString();
}

// A valid first message of each client-streaming RPC, so that later messages are tried too.
std::optional<std::string> FirstMessage(const std::string& method, const std::string& ref) {
  if (method == "Exec") {
    v1::ExecRequest exec;
    exec.mutable_start()->set_ref(ref);
    exec.mutable_start()->add_command("sleep");
    exec.mutable_start()->add_command("30");
    return exec.SerializeAsString();
  }
  if (method == "Attach") {
    v1::AttachRequest attach;
    attach.set_ref(ref);
    return attach.SerializeAsString();
  }
  if (method == "CopyTo") {
    v1::CopyToRequest copy;
    copy.set_ref(ref);
    copy.set_path("/tmp");
    return copy.SerializeAsString();
  }
  return std::nullopt;
}

class NotUtf8RequestTest : public QuiltdTest {
 protected:
  // Sends `messages` on a call of `rpc` ("/quilt.v1.Containers/Create"), half-closes, reads
  // whatever comes back and returns the call's status. Fits every kind of RPC: on the wire a
  // unary call is a stream of one message each way.
  grpc::Status CallRaw(const std::string& rpc, const std::vector<std::string>& messages) {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::CompletionQueue cq;
    void* tag;
    bool ok;
    auto done = [&] { return cq.Next(&tag, &ok) && ok; };
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call = stub.PrepareCall(&ctx, rpc, &cq);
    call->StartCall(nullptr);
    done();
    for (const std::string& message : messages) {
      grpc::Slice slice(message);
      call->Write(grpc::ByteBuffer(&slice, 1), nullptr);
      if (!done()) break;  // the server has finished already
    }
    call->WritesDone(nullptr);
    done();
    grpc::ByteBuffer response;
    do {
      call->Read(&response, nullptr);
    } while (done());
    grpc::Status status;
    call->Finish(&status, nullptr);
    done();
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }

  void ExpectRefused(const std::string& what, const std::string& rpc,
                     const std::vector<std::string>& messages, const std::string& want) {
    const grpc::Status status = CallRaw(rpc, messages);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << what << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(want)) << what;
  }

  // Every container (id, state) and image (digest): what a request could have created.
  std::string Inventory() {
    std::vector<std::string> items;
    v1::ListRequest all;
    all.set_all(true);
    v1::ListResponse containers;
    grpc::ClientContext list_ctx;
    EXPECT_TRUE(containers_->List(&list_ctx, all, &containers).ok());
    for (const v1::Container& c : containers.containers()) {
      items.push_back(absl::StrCat(c.id(), " ", v1::ContainerState_Name(c.state())));
    }
    v1::ListImagesResponse images;
    grpc::ClientContext images_ctx;
    EXPECT_TRUE(images_->ListImages(&images_ctx, v1::ListImagesRequest(), &images).ok());
    for (const v1::Image& image : images.images()) items.push_back(image.digest());
    std::sort(items.begin(), items.end());
    return absl::StrJoin(items, "\n");
  }
};

TEST_F(NotUtf8RequestTest, EveryStringFieldOfEveryRpcIsNamedAndNothingIsCreated) {
  // A running interactive container, so that Exec, Attach and CopyTo read a second message.
  v1::ContainerSpec spec = Spec({"sleep", "600"});
  spec.set_stdin_open(true);
  const std::string id = Run(spec).id();
  const std::string before = Inventory();
  ASSERT_THAT(before, HasSubstr(id + " CONTAINER_STATE_RUNNING"));

  const google::protobuf::FileDescriptor& api = *v1::CreateRequest::descriptor()->file();
  int probes = 0;
  for (int s = 0; s < api.service_count(); ++s) {
    for (int m = 0; m < api.service(s)->method_count(); ++m) {
      const MethodDescriptor& method = *api.service(s)->method(m);
      const std::string rpc = absl::StrCat("/", api.service(s)->full_name(), "/", method.name());
      // Bytes that are no message at all: refused by quiltd too, not by gRPC.
      ExpectRefused(rpc + " garbage", rpc, {"\xff"},
                    absl::StrCat("request: not a valid ", method.input_type()->full_name()));
      const std::optional<std::string> first = FirstMessage(method.name(), id);
      if (method.client_streaming() && !first) {
        ADD_FAILURE() << rpc << ": give FirstMessage a valid first message for it";
      }
      std::vector<FieldChain> strings;
      FieldChain chain;
      CollectStringFields(*method.input_type(), chain, strings);
      for (const FieldChain& field : strings) {
        std::unique_ptr<Message> request(google::protobuf::MessageFactory::generated_factory()
                                             ->GetPrototype(method.input_type())
                                             ->New());
        const std::string path = Plant(request.get(), field);
        const std::string want = path + ": not valid UTF-8";
        ExpectRefused(rpc + " " + path, rpc, {Wire(*request)}, want);
        ++probes;
        if (!method.client_streaming()) continue;
        ExpectRefused(rpc + " second message " + path, rpc, {*first, Wire(*request)}, want);
        ++probes;
      }
    }
  }
  std::cout << probes << " requests with a string that is not UTF-8\n";
  EXPECT_GT(probes, 40);

  EXPECT_EQ(Inventory(), before);
  // The daemon is still fine, and so is the container.
  grpc::ClientContext version_ctx;
  v1::VersionResponse version;
  EXPECT_TRUE(system_->Version(&version_ctx, v1::VersionRequest(), &version).ok());
  v1::RemoveRequest remove;
  remove.set_ref(id);
  remove.set_force(true);
  v1::RemoveResponse removed;
  grpc::ClientContext remove_ctx;
  EXPECT_TRUE(containers_->Remove(&remove_ctx, remove, &removed).ok());
}

}  // namespace
}  // namespace quilt::testing
