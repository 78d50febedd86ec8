// Copyright (c) crust authors. Licensed under the MIT license.
//
// `crust ui`: a read-only web view of a store, served on loopback. The page
// (ui_page.cc) asks the JSON API below, whose documents are written by the
// same functions as the commands' --json output (views.h):
//
//   GET /api/usage               stat --json (commits, parents, disk)
//   GET /api/commit?root=R       {"commit": show --json, "vs_parent": diff --json | null}
//   GET /api/verify?root=R       one verdict of verify --json
//   GET /api/diff?from=A&to=B    diff --json
//
// Errors are {"error": {"code", "message"}} with status 400 (bad request),
// 404 (not found) or 500. The store is opened read-only (no lock), so the
// view works beside a writer; requests run on a pool of threads and the
// Store is safe for concurrent use.
#include <httplib.h>

#include <cstdio>
#include <string>

#include "crust/inspect.h"
#include "tools/crust/commands.h"
#include "tools/crust/views.h"

namespace crust::tool {

extern const char kUiPage[];  // ui_page.cc

namespace {

void SendJson(httplib::Response& res, JsonWriter* w) { res.set_content(w->Take() + "\n", "application/json"); }

void SendError(httplib::Response& res, const Status& s) {
  res.status = IsInvalid(s) ? 400 : s.IsNotFound() ? 404 : 500;
  JsonWriter w;
  w.BeginObject();
  w.Key("error");
  w.BeginObject();
  w.Field("code", Status::CodeName(s.code()));
  w.Field("message", s.message());
  w.EndObject();
  w.EndObject();
  SendJson(res, &w);
}

Result<Root> RootParam(Store* store, const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return Status::InvalidArgument(std::string("missing parameter '") + name + "'");
  const std::string text = req.get_param_value(name);
  RETURN_IF_ERROR(CheckIdSyntax(text, name));
  return ResolveRoot(store, text, name);
}

void Serve(Store* store, httplib::Server* server) {
  server->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kUiPage, "text/html; charset=utf-8");
  });
  server->Get("/api/usage", [store](const httplib::Request&, httplib::Response& res) {
    auto usage = MeasureDiskUsage(store);
    if (!usage.ok()) return SendError(res, usage.status());
    JsonWriter w;
    WriteUsageJson(*usage, &w);
    SendJson(res, &w);
  });
  server->Get("/api/commit", [store](const httplib::Request& req, httplib::Response& res) {
    auto root = RootParam(store, req, "root");
    if (!root.ok()) return SendError(res, root.status());
    auto info = store->ShowCommit(*root);
    if (!info.ok()) return SendError(res, info.status());
    std::optional<CommitDiff> vs_parent;
    if (req.has_param("parent") && !req.get_param_value("parent").empty()) {
      auto parent = RootParam(store, req, "parent");
      if (!parent.ok()) return SendError(res, parent.status());
      auto diff = DiffCommits(store, *parent, *root);
      if (!diff.ok()) return SendError(res, diff.status());
      vs_parent = std::move(diff).value();
    }
    JsonWriter w;
    w.BeginObject();
    w.Key("commit");
    WriteCommitJson(*info, &w);
    w.Key("vs_parent");
    if (vs_parent) {
      WriteDiffJson(*vs_parent, &w);
    } else {
      w.Null();
    }
    w.EndObject();
    SendJson(res, &w);
  });
  server->Get("/api/verify", [store](const httplib::Request& req, httplib::Response& res) {
    auto root = RootParam(store, req, "root");
    if (!root.ok()) return SendError(res, root.status());
    JsonWriter w;
    WriteVerdictJson(*root, store->VerifyCommit(*root), &w);
    SendJson(res, &w);
  });
  server->Get("/api/diff", [store](const httplib::Request& req, httplib::Response& res) {
    auto from = RootParam(store, req, "from");
    if (!from.ok()) return SendError(res, from.status());
    auto to = RootParam(store, req, "to");
    if (!to.ok()) return SendError(res, to.status());
    auto diff = DiffCommits(store, *from, *to);
    if (!diff.ok()) return SendError(res, diff.status());
    JsonWriter w;
    WriteDiffJson(*diff, &w);
    SendJson(res, &w);
  });
}

int RunUi(const ParsedArgs& args, const Output& out) {
  int port = 7878;
  if (auto t = args.Value("port")) {
    if (t->empty() || t->find_first_not_of("0123456789") != std::string::npos || t->size() > 5 || std::stoi(*t) > 65535) {
      return out.UsageFail(Status::InvalidArgument("--port must be a number from 0 to 65535 (0: any free port), not '" +
                                                   Printable(*t) + "'"));
    }
    port = std::stoi(*t);
  }
  const std::string host = args.Value("host").value_or("127.0.0.1");
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  httplib::Server server;
  Serve(store->get(), &server);
  int bound = port;
  if (port == 0) {
    bound = server.bind_to_any_port(host);
  } else if (!server.bind_to_port(host, port)) {
    bound = -1;
  }
  if (bound < 0) {
    return out.Fail(Status::IOError("cannot listen on " + host + ":" + std::to_string(port) +
                                    " (in use, or not an address of this machine); choose another with --port N"));
  }
  const std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(bound) + "/";
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("url", url);
    w.Field("store", (*store)->dir());
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("serving store " + Printable((*store)->dir()) + " read-only on " + url + " (Ctrl-C stops)\n");
  }
  std::fflush(stdout);
  if (!server.listen_after_bind()) return out.Fail(Status::IOError("the web server stopped on " + url));
  return kExitOk;
}

constexpr OptionSpec kUiOptions[] = {
    {.name = "port", .value_name = "N", .help = "port to serve on (default: 7878; 0: any free port)"},
    {.name = "host", .value_name = "ADDR", .help = "address to serve on (default: 127.0.0.1, loopback only)"},
};

constexpr Command kUiCommands[] = {
    {.name = "ui",
     .usage = "ui [--port N] [--host ADDR]",
     .summary = "Serve a read-only web view of the store",
     .help = "Serves a web page on http://127.0.0.1:7878/ (loopback only unless --host is\n"
             "given) showing the commits as a timeline with their likely parents, each\n"
             "commit's modules and sizes, the disk it uses and shares, a heat map of the\n"
             "pages it changed in each memory, its verification status (on request) and\n"
             "the diff between two selected commits. Prints the URL first (JSON: {\"url\",\n"
             "\"store\"}) and serves until interrupted. Opens the store read-only, so it\n"
             "works beside a writer and never changes the store. The API behind the page\n"
             "(/api/usage, /api/commit, /api/verify, /api/diff) returns the documents of\n"
             "stat, show, verify and diff --json.",
     .options = kUiOptions,
     .min_args = 0,
     .max_args = 0,
     .run = RunUi},
};

}  // namespace

std::span<const Command> UiCommands() { return kUiCommands; }

}  // namespace crust::tool
