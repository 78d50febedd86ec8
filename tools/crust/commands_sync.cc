// Copyright (c) crust authors. Licensed under the MIT license.
//
// Moving commits between machines (crust/sync.h, docs/sync.md): `export`
// writes a commit as manifest + chunks, `import` fetches one from a
// directory or http:// URL and checks it against its root, `serve` serves a
// store's commits in the export layout.
#include <cstdio>
#include <string>

#include "crust/sync.h"
#include "tools/crust/commands.h"

namespace crust::tool {
namespace {

int RunExport(const ParsedArgs& args, const Output& out) {
  Status syntax = CheckIdSyntax(args.positional[0], "ROOT");
  if (!syntax.ok()) return out.UsageFail(syntax);
  auto to = args.Value("to");
  if (!to || to->empty()) return out.UsageFail(Status::InvalidArgument("export needs --to DIR (where to write)"));
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto root = ResolveRoot(store->get(), args.positional[0], "ROOT");
  if (!root.ok()) return out.Fail(root.status());
  auto stats = ExportCommit(store->get(), *root, *to);
  if (!stats.ok()) return out.Fail(stats.status());
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("root", root->ToHex());
    w.Field("dir", *to);
    w.Field("chunks_written", stats->chunks_written);
    w.Field("chunks_present", stats->chunks_present);
    w.Field("bytes_written", stats->bytes_written);
    w.Field("manifest_bytes", stats->manifest_bytes);
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("exported " + root->ToHex() + " to " + *to + ": " + std::to_string(stats->chunks_written) +
              " chunks written (" + std::to_string(stats->bytes_written) + " bytes), " +
              std::to_string(stats->chunks_present) + " already there, manifest " +
              std::to_string(stats->manifest_bytes) + " bytes\n");
  }
  return kExitOk;
}

int RunImport(const ParsedArgs& args, const Output& out) {
  auto root = ParseHash(args.positional[0]);
  if (!root.ok()) return out.UsageFail(root.status());
  auto from = args.Value("from");
  if (!from || from->empty()) {
    return out.UsageFail(Status::InvalidArgument("import needs --from DIR or --from http://HOST:PORT[/PATH]"));
  }
  const bool create = args.Flag("create");
  Status ok = create ? CheckCanCreateStore(args.store_dir) : CheckIsStore(args.store_dir);
  if (!ok.ok()) return out.Fail(ok);
  StoreOptions options;
  options.create_if_missing = create;
  auto store = Store::Open(args.store_dir, options);
  if (!store.ok()) return out.Fail(store.status());
  ImportOptions import_options;
  if (auto s = args.Value("staging")) import_options.staging_dir = *s;
  auto stats = ImportCommit(store->get(), *from, *root, import_options);
  if (!stats.ok()) return out.Fail(stats.status());
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("root", root->ToHex());
    w.Field("already_present", stats->already_present);
    w.Field("manifest_bytes", stats->manifest_bytes);
    w.Field("requests", stats->requests);
    w.Field("bytes_fetched", stats->bytes_fetched);
    w.Field("pages_fetched", stats->pages_fetched);
    w.Field("pages_local", stats->pages_local);
    w.Field("pages_resumed", stats->pages_resumed);
    w.Field("bytes_resumed", stats->bytes_resumed);
    w.Field("memories_linked", stats->memories_linked);
    w.Field("deltas_written", stats->deltas_written);
    w.Field("bytecodes_linked", stats->bytecodes_linked);
    w.EndObject();
    out.PrintJson(&w);
  } else if (stats->already_present) {
    out.Print("the store already holds " + root->ToHex() + "; nothing fetched\n");
  } else {
    out.Print("imported " + root->ToHex() + ": manifest " + std::to_string(stats->manifest_bytes) + " bytes, " +
              std::to_string(stats->pages_fetched) + " pages fetched (" + std::to_string(stats->bytes_fetched) +
              " bytes in " + std::to_string(stats->requests) + " requests), " + std::to_string(stats->pages_local) +
              " pages local, " + std::to_string(stats->pages_resumed) + " resumed (+" +
              std::to_string(stats->bytes_resumed) + " bytes of broken-off transfers)\n");
  }
  return kExitOk;
}

int RunServe(const ParsedArgs& args, const Output& out) {
  int port = 7879;
  if (auto t = args.Value("port")) {
    if (t->empty() || t->find_first_not_of("0123456789") != std::string::npos || t->size() > 5 ||
        std::stoi(*t) > 65535) {
      return out.UsageFail(Status::InvalidArgument("--port must be a number from 0 to 65535 (0: any free port), not '" +
                                                   Printable(*t) + "'"));
    }
    port = std::stoi(*t);
  }
  const std::string bind = args.Value("bind").value_or("127.0.0.1");
  auto store = OpenStore(args, StoreAccess::kReadOnly);
  if (!store.ok()) return out.Fail(store.status());
  auto server = SyncServer::Start(store->get(), bind, port);
  if (!server.ok()) return out.Fail(server.status());
  const std::string url = "http://" + (bind.find(':') != std::string::npos ? "[" + bind + "]" : bind) + ":" +
                          std::to_string((*server)->port());
  if (out.json()) {
    JsonWriter w;
    w.BeginObject();
    w.Field("url", url);
    w.Field("store", (*store)->dir());
    w.EndObject();
    out.PrintJson(&w);
  } else {
    out.Print("serving the commits of " + Printable((*store)->dir()) + " read-only on " + url +
              " (crust import --from " + url + " ROOT; Ctrl-C stops)\n");
  }
  std::fflush(stdout);
  (*server)->Wait();
  return kExitOk;
}

constexpr OptionSpec kExportOptions[] = {
    {.name = "to", .value_name = "DIR", .help = "the export directory (created if missing; required)"},
};

constexpr OptionSpec kImportOptions[] = {
    {.name = "from", .value_name = "SOURCE", .help = "an export directory or http://HOST:PORT[/PATH] (required)"},
    {.name = "create", .value_name = "", .help = "create the store when missing (in a new or empty directory)"},
    {.name = "staging", .value_name = "DIR",
     .help = "where verified chunks wait between attempts (default: STORE/.sync-import/ROOT)"},
};

constexpr OptionSpec kServeOptions[] = {
    {.name = "port", .value_name = "N", .help = "port to serve on (default: 7879; 0: any free port)"},
    {.name = "bind", .value_name = "ADDR", .help = "address to serve on (default: 127.0.0.1, loopback only)"},
};

constexpr Command kSyncCommands[] = {
    {.name = "export",
     .usage = "export --to DIR ROOT",
     .summary = "Write a commit as a manifest and content-addressed chunks",
     .help = "Writes commit ROOT (64 hex characters or a unique prefix of at least 8) to DIR\n"
             "as DIR/manifest/<root> and DIR/chunk/<hash> files (docs/sync.md): any static\n"
             "HTTP server can serve DIR to `crust import`. Chunks already in DIR are not\n"
             "written again, so exporting a later commit adds only what changed. Opens\n"
             "the store read-only. JSON: {\"root\", \"dir\", \"chunks_written\",\n"
             "\"chunks_present\", \"bytes_written\", \"manifest_bytes\"}.",
     .options = kExportOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunExport},
    {.name = "import",
     .usage = "import --from DIR|http://HOST:PORT[/PATH] [--create] ROOT",
     .summary = "Fetch a commit from an export or a server, verified against its root",
     .help = "Fetches commit ROOT (64 hex characters: the root is what is trusted) from an\n"
             "export directory or an HTTP server (crust serve, nginx...). The manifest must\n"
             "yield ROOT before any chunk is fetched; only what no local commit holds is\n"
             "fetched; every page and bytecode is checked as it arrives; the commit appears\n"
             "atomically. An interrupted import resumes from the last byte received when\n"
             "run again.\n"
             "Exit status 1, naming the manifest or chunk, when something does not match:\n"
             "nothing is then published. JSON: {\"root\", \"already_present\",\n"
             "\"manifest_bytes\", \"requests\", \"bytes_fetched\", \"pages_fetched\",\n"
             "\"pages_local\", \"pages_resumed\", \"bytes_resumed\", \"memories_linked\",\n"
             "\"deltas_written\", "
             "\"bytecodes_linked\"}.",
     .options = kImportOptions,
     .min_args = 1,
     .max_args = 1,
     .run = RunImport},
    {.name = "serve",
     .usage = "serve [--port N] [--bind ADDR]",
     .summary = "Serve the store's commits to `crust import` over HTTP (read-only)",
     .help = "Serves every commit of the store in the export layout (GET /manifest/<root>,\n"
             "GET /chunk/<hash>, Range requests allowed) on http://127.0.0.1:7879 (loopback\n"
             "only unless --bind is given), reading the commit files directly. Prints the\n"
             "URL first (JSON: {\"url\", \"store\"}) and serves until interrupted. Opens the\n"
             "store read-only, so it works beside a writer.",
     .options = kServeOptions,
     .min_args = 0,
     .max_args = 0,
     .run = RunServe},
};

}  // namespace

std::span<const Command> SyncCommands() { return kSyncCommands; }

}  // namespace crust::tool
