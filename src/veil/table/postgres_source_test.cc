#include "veil/table/postgres_source.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "veil/table/postgres_testing.h"

namespace veil::table {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// --- Without a server.

TEST(ParsePgTableNameTest, FollowsPostgresIdentifierRules) {
  absl::StatusOr<PgTableName> t = ParsePgTableName("Visits");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, (PgTableName{"", "visits"}));  // unquoted names fold to lower case
  t = ParsePgTableName("Clinic.Visits_2024$");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, (PgTableName{"clinic", "visits_2024$"}));
  t = ParsePgTableName(R"("My Schema"."we""ird.table")");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, (PgTableName{"My Schema", "we\"ird.table"}));
  EXPECT_EQ(t->ToString(), R"("My Schema"."we""ird.table")");
  t = ParsePgTableName("public.\"Ünïcode\"");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name, "Ünïcode");

  for (const char* bad : {"", ".", "a.", ".a", "a.b.c", "\"a", "\"\"", "\"a\"b", "a b", "1abc", "a;drop",
                          "a-b", "\"a\".", "a..b"}) {
    absl::StatusOr<PgTableName> r = ParsePgTableName(bad);
    EXPECT_FALSE(r.ok()) << "accepted: " << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(RedactPgConninfoTest, HidesPasswordsInBothSyntaxes) {
  EXPECT_EQ(RedactPgConninfo("postgresql://ann:s3cr%40t@db.example:5433/clinic?sslmode=require"),
            "postgresql://ann:***@db.example:5433/clinic?sslmode=require");
  EXPECT_EQ(RedactPgConninfo("postgres://ann@db/clinic?password=hunter2&sslmode=require"),
            "postgres://ann@db/clinic?password=***&sslmode=require");
  EXPECT_EQ(RedactPgConninfo("host=db user=ann password=hunter2 dbname=clinic"),
            "host=db user=ann password=*** dbname=clinic");
  EXPECT_EQ(RedactPgConninfo("host=db password = 'two words \\' quote' dbname=clinic"),
            "host=db password = '***' dbname=clinic");
  // Unencoded '@' and '/' in a URI password (libpq would reject it; it must not leak either).
  EXPECT_EQ(RedactPgConninfo("postgresql://ann:p@ss/w@db/clinic"), "postgresql://ann:***@db/clinic");
  // Nothing to hide.
  EXPECT_EQ(RedactPgConninfo("postgresql://ann@db/clinic"), "postgresql://ann@db/clinic");
  EXPECT_EQ(RedactPgConninfo("host=db dbname=clinic"), "host=db dbname=clinic");
}

TEST(PgConninfoWithoutPasswordTest, DropsThePasswordInBothSyntaxesAndKeepsTheRest) {
  absl::StatusOr<std::string> uri =
      PgConninfoWithoutPassword("postgresql://ann:s3cr%40t@db.example:5433/clinic?sslmode=require");
  ASSERT_TRUE(uri.ok()) << uri.status();
  EXPECT_EQ(*uri, "user='ann' dbname='clinic' host='db.example' port='5433' sslmode='require'");
  absl::StatusOr<std::string> kv =
      PgConninfoWithoutPassword("host=/run/pg dbname='my db' password = 'it\\'s' application_name='a\\\\b'");
  ASSERT_TRUE(kv.ok()) << kv.status();
  EXPECT_EQ(kv->find("password"), std::string::npos);
  EXPECT_EQ(kv->find("it"), std::string::npos);
  EXPECT_NE(kv->find("dbname='my db'"), std::string::npos);
  EXPECT_NE(kv->find("application_name='a\\\\b'"), std::string::npos) << *kv;
  absl::Status bad = PgConninfoWithoutPassword("postgresql://ann:hunter2@db/x?nosuchoption=1").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(bad.message()).find("hunter2"), std::string::npos) << bad;
}

TEST(PgConnectTest, BadConnectionStringIsInvalidArgumentWithoutPassword) {
  absl::StatusOr<PgConnection> c = PgConnection::Connect("host=db password=Sup3rSecret nonsense");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("invalid PostgreSQL connection string"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Sup3rSecret")));

  c = PgConnection::Connect("postgresql://ann:Sup3rSecret@db/clinic?nosuchparam=Sup3rSecret");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("nosuchparam"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Sup3rSecret")));

  c = PgConnection::Connect(std::string("host=db\0x", 9));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);

  PgConnectOptions negative;
  negative.statement_timeout_ms = -1;
  EXPECT_EQ(PgConnection::Connect("host=db", negative).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PgConnectTest, UnreachableServerIsUnavailableNamingHostWithoutPassword) {
  // Port 1 on the loopback interface: nothing listens there, so the connection is refused at once.
  PgConnectOptions options;
  options.connect_timeout_seconds = 2;
  absl::StatusOr<PgConnection> c =
      PgConnection::Connect("postgresql://ann:Sup3rSecret@127.0.0.1:1/clinic", options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("host=127.0.0.1 port=1 dbname=clinic"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Sup3rSecret")));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("postgresql://")));
}

// --- Against the test server.

class PgSourceTest : public testing::PgServerTest {
 protected:
  Table MustQuery(std::string_view sql, std::span<const Value> params = {},
                  const PgReadOptions& options = {}) {
    absl::StatusOr<Table> t = pg().Query(sql, params, options);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *std::move(t) : Table();
  }
  void MustExecute(std::string_view sql) {
    absl::StatusOr<int64_t> r = pg().Execute(sql);
    ASSERT_TRUE(r.ok()) << r.status();
  }
};

TEST_F(PgSourceTest, ConnectsAndNamesTheLocation) {
  EXPECT_THAT(pg().location(), HasSubstr("PostgreSQL host=/tmp/"));
  EXPECT_THAT(pg().location(), HasSubstr("dbname=postgres"));
  EXPECT_GE(pg().server_version(), 110000);
  Table t = MustQuery("SELECT current_setting('TimeZone') AS tz, current_setting('client_encoding') AS enc");
  ASSERT_EQ(t.num_rows(), 1);
  EXPECT_EQ(t.column(0).GetString(0), "UTC");
  EXPECT_EQ(t.column(1).GetString(0), "UTF8");
  Table floats = MustQuery("SELECT 0.1::float8::text AS a, 1e22::float8::text AS b, true::text AS c");
  EXPECT_EQ(floats.column(0).GetString(0), "0.1");
  EXPECT_EQ(floats.column(1).GetString(0), "1e+22");
  EXPECT_EQ(floats.column(2).GetString(0), "true");
}

TEST_F(PgSourceTest, MissingDatabaseErrorScrubsThePassword) {
  // Trust authentication ignores the password, so the server is reached and refuses the database, whose
  // name here is the password too: the message must still not show it.
  const std::string with_password = absl::StrCat(conninfo(), "&password=Zq9pw_Secret&dbname=Zq9pw_Secret");
  absl::StatusOr<PgConnection> c = PgConnection::Connect(with_password);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(c.status().message(), HasSubstr("does not exist"));
  EXPECT_THAT(c.status().message(), Not(HasSubstr("Zq9pw_Secret")));
}

TEST_F(PgSourceTest, MapsEveryTypeExactly) {
  MustExecute(R"(CREATE TEMP TABLE types (
      i2 smallint, i4 integer, i8 bigint NOT NULL, f4 real, f8 double precision, num numeric, b boolean,
      t text, vc varchar(10), ch char(4), d date, ts timestamp, tz timestamptz))");
  MustExecute(R"(INSERT INTO types VALUES
      (-32768, -2147483648, -9223372036854775808, 1.5, 0.1, 12345678901234567890.125, true,
       'héllo', 'v', 'ab', '1970-01-01', '1970-01-01 00:00:00.000001', '2024-02-29 23:59:59.5+02'),
      (32767, 2147483647, 9223372036854775807, 'NaN', '-Infinity', -0.000123, false,
       '', 'x', 'abcd', '1900-02-28', '1969-12-31 23:59:59', '9999-12-31 23:59:59.999999+00'),
      (NULL, NULL, 0, NULL, '-0', 'NaN', NULL, NULL, NULL, NULL, '0001-01-01', '2000-01-01', NULL),
      (NULL, NULL, 1, 'Infinity', 1e308, 1e-300, NULL, NULL, NULL, NULL, '2000-03-01', NULL, NULL))");
  absl::StatusOr<Table> read = pg().ReadTable(PgTableName{"", "types"});
  ASSERT_TRUE(read.ok()) << read.status();
  const Table& t = *read;
  ASSERT_EQ(t.num_rows(), 4);
  EXPECT_EQ(
      t.schema().ToString(),
      "i2: int64, i4: int64, i8: int64 not null, f4: double, f8: double, num: double, b: bool, t: string, "
      "vc: string, ch: string, d: date, ts: timestamp, tz: timestamp");
  EXPECT_EQ(t.column(0).GetInt64(0), -32768);
  EXPECT_EQ(t.column(0).GetInt64(1), 32767);
  EXPECT_EQ(t.column(1).GetInt64(0), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(t.column(2).GetInt64(0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(t.column(2).GetInt64(1), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(t.column(3).GetDouble(0), 1.5);
  EXPECT_TRUE(std::isnan(t.column(3).GetDouble(1)));
  EXPECT_EQ(t.column(3).GetDouble(3), std::numeric_limits<double>::infinity());
  EXPECT_EQ(t.column(4).GetDouble(0), 0.1);  // bit for bit: binary transfer
  EXPECT_EQ(t.column(4).GetDouble(1), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::signbit(t.column(4).GetDouble(2)));
  EXPECT_EQ(t.column(4).GetDouble(3), 1e308);
  EXPECT_EQ(t.column(5).GetDouble(0), 12345678901234567890.125);  // correctly rounded from the decimal
  EXPECT_EQ(t.column(5).GetDouble(1), -0.000123);
  EXPECT_TRUE(std::isnan(t.column(5).GetDouble(2)));
  EXPECT_EQ(t.column(5).GetDouble(3), 1e-300);
  EXPECT_TRUE(t.column(6).GetBool(0));
  EXPECT_FALSE(t.column(6).GetBool(1));
  EXPECT_TRUE(t.column(6).IsNull(2));
  EXPECT_EQ(t.column(7).GetString(0), "héllo");
  EXPECT_EQ(t.column(7).GetString(1), "");
  EXPECT_FALSE(t.column(7).IsNull(1));
  EXPECT_TRUE(t.column(7).IsNull(2));
  EXPECT_EQ(t.column(8).GetString(0), "v");
  EXPECT_EQ(t.column(9).GetString(0), "ab");  // char(n) without its insignificant padding
  EXPECT_EQ(t.FormatValue(0, 10), "1970-01-01");
  EXPECT_EQ(t.column(10).GetDate(0).days, 0);
  EXPECT_EQ(t.FormatValue(1, 10), "1900-02-28");
  EXPECT_EQ(t.FormatValue(2, 10), "0001-01-01");
  EXPECT_EQ(t.FormatValue(3, 10), "2000-03-01");
  EXPECT_EQ(t.column(11).GetTimestamp(0).micros, 1);
  EXPECT_EQ(t.column(11).GetTimestamp(1).micros, -kMicrosPerSecond);
  EXPECT_EQ(t.FormatValue(2, 11), "2000-01-01T00:00:00Z");
  EXPECT_TRUE(t.column(11).IsNull(3));
  EXPECT_EQ(t.FormatValue(0, 12), "2024-02-29T21:59:59.500000Z");  // +02 converted to UTC
  EXPECT_EQ(t.FormatValue(1, 12), "9999-12-31T23:59:59.999999Z");
  EXPECT_TRUE(t.schema().field(0).nullable);
  EXPECT_FALSE(t.schema().field(2).nullable);
  // The same values through a query: same data, all fields nullable.
  Table q = MustQuery("SELECT * FROM types");
  EXPECT_TRUE(q.schema().field(2).nullable);
  for (int c = 0; c < t.num_columns(); ++c) EXPECT_EQ(q.column(c), t.column(c)) << c;
}

TEST_F(PgSourceTest, ParametersRoundTripInBinary) {
  const std::vector<Value> params = {Value(int64_t{-9'000'000'000'000'000'000}),
                                     Value(0.1),
                                     Value(-std::numeric_limits<double>::infinity()),
                                     Value(true),
                                     Value(std::string("it's \"quoted\"; DROP TABLE x; --\t\n\\")),
                                     Value(Date{-719162}),
                                     Value(Timestamp{-1}),
                                     Value(std::monostate()),
                                     Value(std::string("ünïcødé ✓"))};
  Table t = MustQuery(
      "SELECT $1 AS a, $2 AS b, $3 AS c, $4 AS d, $5 AS e, $6 AS f, $7 AS g, $8::int8 AS h, "
      "$9 AS i",
      params);
  ASSERT_EQ(t.num_rows(), 1);
  for (int c = 0; c < 9; ++c) {
    EXPECT_EQ(t.GetValue(0, c), params[c]) << "parameter " << c + 1 << ": " << t.FormatValue(0, c);
  }
  // Parameters compare with columns of other integer widths and with naive timestamps (as UTC).
  MustExecute("CREATE TEMP TABLE p (n integer, ts timestamp)");
  MustExecute("INSERT INTO p VALUES (1, '2024-01-01 10:00'), (2, '2024-01-01 12:00'), (3, NULL)");
  const std::vector<Value> filter = {Value(int64_t{1}), Value(Timestamp{1704103200LL * kMicrosPerSecond})};
  Table f = MustQuery("SELECT n FROM p WHERE n > $1 AND ts >= $2", filter);  // 2024-01-01T10:00:00Z
  ASSERT_EQ(f.num_rows(), 1);
  EXPECT_EQ(f.column(0).GetInt64(0), 2);
}

TEST_F(PgSourceTest, HostileNamesAreQuoted) {
  MustExecute("CREATE TEMP TABLE sentinel (x int)");
  const std::string table_name = "we\"ird; DROP TABLE sentinel; --";
  const std::string col_a = "a\"; DROP TABLE sentinel; --";
  const std::string col_b = "B 'col' \\ ü";
  absl::StatusOr<std::string> qt = pg().QuoteIdentifier(table_name);
  ASSERT_TRUE(qt.ok()) << qt.status();
  EXPECT_EQ(*qt, "\"we\"\"ird; DROP TABLE sentinel; --\"");
  absl::StatusOr<std::string> qa = pg().QuoteIdentifier(col_a);
  absl::StatusOr<std::string> qb = pg().QuoteIdentifier(col_b);
  ASSERT_TRUE(qa.ok() && qb.ok());
  MustExecute(absl::StrCat("CREATE TEMP TABLE ", *qt, " (", *qa, " bigint, ", *qb, " text)"));

  Schema schema = *Schema::Make({{col_a, DataType::kInt64}, {col_b, DataType::kString}});
  TableBuilder b(schema);
  ASSERT_TRUE(b.AppendRow({int64_t{1}, std::string("x'); DROP TABLE sentinel; --")}).ok());
  ASSERT_TRUE(b.AppendRow({int64_t{2}, std::monostate()}).ok());
  Table data = *b.Finish();
  const PgTableName name{"", table_name};
  absl::Status copied = pg().CopyIntoTable(name, data);
  ASSERT_TRUE(copied.ok()) << copied;

  absl::StatusOr<std::vector<PgColumn>> columns = pg().DescribeTable(name);
  ASSERT_TRUE(columns.ok()) << columns.status();
  ASSERT_EQ(columns->size(), 2u);
  EXPECT_EQ((*columns)[0].name, col_a);
  EXPECT_EQ((*columns)[0].pg_type, "bigint");
  EXPECT_EQ((*columns)[1].name, col_b);
  EXPECT_TRUE((*columns)[1].supported);

  absl::StatusOr<Table> back = pg().ReadTable(name);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, data);
  PgReadOptions only_b;
  only_b.columns = {col_b};
  back = pg().ReadTable(name, only_b);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->num_columns(), 1);
  EXPECT_EQ(back->schema().field(0).name, col_b);

  // The sentinel survived everything.
  EXPECT_EQ(MustQuery("SELECT count(*) AS n FROM sentinel").num_rows(), 1);

  // Identifiers that cannot be quoted.
  EXPECT_EQ(pg().QuoteIdentifier("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pg().QuoteIdentifier(std::string("a\0b", 3)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(pg().QuoteIdentifier("\xff").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PgSourceTest, CopyRoundTripsEveryType) {
  Schema schema = *Schema::Make({{"i", DataType::kInt64},
                                 {"f", DataType::kDouble},
                                 {"b", DataType::kBool},
                                 {"s", DataType::kString},
                                 {"d", DataType::kDate},
                                 {"ts", DataType::kTimestamp}});
  TableBuilder builder(schema);
  const std::vector<std::string> texts = {"plain", "tab\there", "new\nline", "cr\rhere", "back\\slash",
                                          "\\N",   "",          "ünï ✓",     "'quote\""};
  for (int64_t i = 0; i < 1000; ++i) {
    builder.column(0).AppendInt64(i * 7919 - 3'000'000'000'000LL);
    if (i % 11 == 0) {
      builder.column(1).AppendNull();
    } else {
      builder.column(1).AppendDouble(i % 13 == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / (i + 3));
    }
    builder.column(2).AppendBool(i % 3 == 0);
    builder.column(3).AppendString(texts[i % texts.size()]);
    builder.column(4).AppendDate(Date{static_cast<int32_t>(i * 37 - 20000)});
    builder.column(5).AppendTimestamp(Timestamp{i * 123'456'789'011LL - 50'000'000'000'000LL});
  }
  Table data = *builder.Finish();
  MustExecute("CREATE TEMP TABLE c (i bigint, f float8, b bool, s text, d date, ts timestamptz)");
  absl::Status copied = pg().CopyIntoTable(PgTableName{"", "c"}, data);
  ASSERT_TRUE(copied.ok()) << copied;
  absl::StatusOr<Table> back = pg().ReadTable(PgTableName{"", "c"});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, data);
}

TEST_F(PgSourceTest, StreamsInChunks) {
  PgReadOptions options;
  options.chunk_rows = 1000;
  std::vector<int64_t> sizes;
  int64_t sum = 0;
  const Value limit[] = {Value(int64_t{25'000})};
  absl::Status s = pg().QueryChunks("SELECT g AS n, 'k' || (g % 7) AS k FROM generate_series(1, $1) g", limit,
                                    options, [&](Table chunk) {
                                      sizes.push_back(chunk.num_rows());
                                      for (int64_t r = 0; r < chunk.num_rows(); ++r)
                                        sum += chunk.column(0).GetInt64(r);
                                      return absl::OkStatus();
                                    });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(sizes, std::vector<int64_t>(25, 1000));
  EXPECT_EQ(sum, 25'000LL * 25'001 / 2);

  // Query joins the chunks into one table.
  options.chunk_rows = 999;
  Table t = MustQuery("SELECT g AS n, 'k' || (g % 7) AS k FROM generate_series(1, $1) g", limit, options);
  ASSERT_EQ(t.num_rows(), 25'000);
  EXPECT_EQ(t.column(0).GetInt64(24'999), 25'000);
  EXPECT_EQ(t.column(1).GetString(24'999), "k3");

  // An empty result is one empty chunk with the columns.
  sizes.clear();
  s = pg().QueryChunks("SELECT 1::int8 AS one WHERE false", {}, options, [&](Table chunk) {
    sizes.push_back(chunk.num_rows());
    EXPECT_EQ(chunk.num_columns(), 1);
    return absl::OkStatus();
  });
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(sizes, std::vector<int64_t>{0});

  // An error from the sink stops the query and comes back as it is; the connection stays usable.
  s = pg().QueryChunks("SELECT g FROM generate_series(1, 5000) g", {}, options,
                       [](Table) { return absl::CancelledError("enough"); });
  EXPECT_EQ(s, absl::CancelledError("enough"));
  EXPECT_EQ(MustQuery("SELECT 1 AS one").num_rows(), 1);

  options.chunk_rows = 0;
  EXPECT_EQ(pg().Query("SELECT 1", {}, options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(PgSourceTest, QueriesInsideTheCallersTransaction) {
  MustExecute("BEGIN");
  MustExecute("CREATE TEMP TABLE tx (x int)");
  MustExecute("INSERT INTO tx VALUES (1), (2)");
  Table t = MustQuery("SELECT sum(x)::int8 AS s FROM tx");
  ASSERT_EQ(t.num_rows(), 1);
  EXPECT_EQ(t.column(0).GetInt64(0), 3);
  MustExecute("COMMIT");
}

TEST_F(PgSourceTest, ErrorsAreClearAndCanonical) {
  // No such table: NotFound naming it.
  absl::StatusOr<Table> r = pg().ReadTable(PgTableName{"nosuchschema", "nosuchtable"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("\"nosuchschema\".\"nosuchtable\""));
  EXPECT_THAT(r.status().message(), HasSubstr("dbname=postgres"));
  EXPECT_EQ(pg().Query("SELECT * FROM nosuchtable").status().code(), absl::StatusCode::kNotFound);

  MustExecute("CREATE TEMP TABLE odd (id int, u uuid, d date)");
  MustExecute("INSERT INTO odd VALUES (1, gen_random_uuid(), 'infinity')");
  // A column of a type Veil does not read: named, with its type.
  r = pg().ReadTable(PgTableName{"", "odd"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("column \"u\" has type uuid"));
  EXPECT_THAT(pg().Query("SELECT u FROM odd").status().message(), HasSubstr("column \"u\""));
  // Leaving it out works; the infinite date is OutOfRange naming its column.
  PgReadOptions options;
  options.columns = {"id", "d"};
  r = pg().ReadTable(PgTableName{"", "odd"}, options);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(r.status().message(), HasSubstr("column \"d\""));
  options.columns = {"id", "nope"};
  EXPECT_EQ(pg().ReadTable(PgTableName{"", "odd"}, options).status().code(), absl::StatusCode::kNotFound);

  // A data error: the offending value stays out of the message.
  r = pg().Query("SELECT 'Jane Roe'::int AS x");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("SQLSTATE 22P02"));
  EXPECT_THAT(r.status().message(), Not(HasSubstr("Jane Roe")));
  // Syntax errors, more than one statement, statements that are not queries.
  EXPECT_EQ(pg().Query("SELEC 1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(pg().Query("SELECT 1; SELECT 2").ok());
  EXPECT_FALSE(pg().Query("DELETE FROM odd").ok());
  // Duplicate result column names cannot make a Table.
  r = pg().Query("SELECT 1 AS a, 2 AS a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // The connection is still usable after all of that.
  EXPECT_EQ(MustQuery("SELECT 1 AS one").num_rows(), 1);
}

TEST_F(PgSourceTest, QueriesRunReadOnly) {
  // A function with side effects cannot write through Query (a sequence in the database proper: temporary
  // objects are writable even in a read-only transaction). Named per backend: tests run in parallel.
  Table pid = MustQuery("SELECT 'veil_ro_' || pg_backend_pid() AS name");
  ASSERT_EQ(pid.num_rows(), 1);
  absl::StatusOr<std::string> seq = pg().QuoteIdentifier(pid.column(0).GetString(0));
  ASSERT_TRUE(seq.ok());
  MustExecute(absl::StrCat("CREATE SEQUENCE ", *seq));
  const Value name[] = {Value(*seq)};
  absl::StatusOr<Table> r = pg().Query("SELECT nextval($1::regclass) AS n", name);
  MustExecute(absl::StrCat("DROP SEQUENCE ", *seq));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("SQLSTATE 25006"));
  // Data-modifying statements are not queries.
  MustExecute("CREATE TEMP TABLE victim (x int)");
  EXPECT_FALSE(pg().Query("DELETE FROM victim RETURNING x").ok());
  EXPECT_FALSE(pg().Query("WITH d AS (DELETE FROM victim RETURNING x) SELECT x FROM d").ok());
}

TEST_F(PgSourceTest, StatementTimeoutIsDeadlineExceeded) {
  PgConnectOptions options;
  options.statement_timeout_ms = 100;
  absl::StatusOr<PgConnection> c = PgConnection::Connect(conninfo(), options);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Table> r = c->Query("SELECT pg_sleep(5)::text AS s");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r.status().message(), HasSubstr("SQLSTATE 57014"));
}

}  // namespace
}  // namespace veil::table
