// The Java side of the Spring Batch interoperability tests: does what Spring Batch 5.2 does
// with a context or a parameter set, configured as Spring's own classes configure it.
//
// Reads one JSON array of requests on stdin, answers one JSON array of results on stdout
// (one JVM start for a whole batch of cases). A value crosses as a typed description:
// {"t": "Long", "v": "6"}, {"t": "Map", "c": "java.util.HashMap", "v": {...}}, ...
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.core.type.WritableTypeId;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.jsontype.BasicPolymorphicTypeValidator;
import com.fasterxml.jackson.databind.jsontype.TypeDeserializer;
import com.fasterxml.jackson.databind.jsontype.TypeSerializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TimeZone;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;

public class SpringOracle {

    static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    static final ObjectMapper PLAIN = new ObjectMapper();

    public static void main(String[] args) throws Exception {
        JsonNode requests = PLAIN.readTree(System.in);
        ArrayNode results = NODES.arrayNode();
        ObjectMapper jackson = springJackson2Mapper();
        for (JsonNode request : requests) {
            ObjectNode result = NODES.objectNode();
            try {
                answer(request, result, jackson);
            } catch (Exception error) {
                result.put("error", error.toString());
            }
            results.add(result);
        }
        PLAIN.writeValue(System.out, results);
    }

    static void answer(JsonNode request, ObjectNode result, ObjectMapper jackson) throws Exception {
        String op = request.get("op").asText();
        switch (op) {
            case "jackson-read": {
                // Jackson2ExecutionContextStringSerializer.deserialize
                Map<String, Object> map = jackson.readValue(
                        request.get("text").asText().getBytes(StandardCharsets.UTF_8),
                        new TypeReference<HashMap<String, Object>>() {});
                result.set("value", describe(map));
                break;
            }
            case "jackson-write": {
                // Jackson2ExecutionContextStringSerializer.serialize of JdbcExecutionContextDao's HashMap
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                jackson.writeValue(out, build(request.get("value")));
                result.put("text", out.toString(StandardCharsets.UTF_8));
                break;
            }
            case "java-read": {
                // DefaultExecutionContextSerializer.deserialize
                ObjectInputStream in = new ObjectInputStream(Base64.getDecoder().wrap(
                        new ByteArrayInputStream(request.get("text").asText().getBytes(StandardCharsets.UTF_8))));
                result.set("value", describe(in.readObject()));
                break;
            }
            case "java-write": {
                // DefaultExecutionContextSerializer.serialize
                ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
                try (ObjectOutputStream out = new ObjectOutputStream(Base64.getEncoder().wrap(bytes))) {
                    out.writeObject(build(request.get("value")));
                }
                result.put("text", bytes.toString(StandardCharsets.UTF_8));
                break;
            }
            case "job-key": {
                TimeZone.setDefault(TimeZone.getTimeZone(request.path("zone").asText("UTC")));
                String text = jobKeyText(request.get("parameters"), request.get("spring").asInt());
                result.put("text", text);
                result.put("key", md5(text));
                break;
            }
            case "dao": {
                TimeZone.setDefault(TimeZone.getTimeZone(request.path("zone").asText("UTC")));
                try (Connection connection = DriverManager.getConnection(request.get("url").asText())) {
                    Dao dao = new Dao(connection, request.get("spring").asInt(), request.get("format").asText(), jackson);
                    ArrayNode answers = result.putArray("answers");
                    for (JsonNode action : request.get("actions")) {
                        answers.add(dao.act(action));
                    }
                }
                break;
            }
            case "java-version":
                result.put("version", Runtime.version().feature());
                break;
            default:
                throw new IllegalArgumentException("unknown op " + op);
        }
    }

    // -- Spring Batch 5.2's Jackson2ExecutionContextStringSerializer configuration --------

    static ObjectMapper springJackson2Mapper() {
        ObjectMapper.DefaultTypeResolverBuilder typing = new ObjectMapper.DefaultTypeResolverBuilder(
                ObjectMapper.DefaultTyping.NON_FINAL,
                BasicPolymorphicTypeValidator.builder().allowIfSubType(Object.class).build());
        typing.init(JsonTypeInfo.Id.CLASS, null);
        typing.inclusion(JsonTypeInfo.As.PROPERTY);
        return JsonMapper.builder()
                .configure(MapperFeature.DEFAULT_VIEW_INCLUSION, false)
                .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
                .configure(MapperFeature.BLOCK_UNSAFE_POLYMORPHIC_BASE_TYPES, true)
                .setDefaultTyping(typing)
                .addModule(javaTimeTimestamps())
                .build();
    }

    // Debian has no jackson-datatype-jsr310: this module writes and reads LocalDate and
    // LocalDateTime as JavaTimeModule does with its defaults (WRITE_DATES_AS_TIMESTAMPS,
    // nanoseconds): [2024,3,15] and [2024,3,15,10,30(,5(,123000000))], type id as a wrapper array.
    static SimpleModule javaTimeTimestamps() {
        SimpleModule module = new SimpleModule("jsr310 timestamps");
        module.addSerializer(LocalDate.class, new StdSerializer<LocalDate>(LocalDate.class) {
            @Override
            public void serialize(LocalDate value, JsonGenerator gen, SerializerProvider provider) throws IOException {
                gen.writeStartArray();
                gen.writeNumber(value.getYear());
                gen.writeNumber(value.getMonthValue());
                gen.writeNumber(value.getDayOfMonth());
                gen.writeEndArray();
            }

            @Override
            public void serializeWithType(LocalDate value, JsonGenerator gen, SerializerProvider provider,
                    TypeSerializer typeSer) throws IOException {
                WritableTypeId id = typeSer.writeTypePrefix(gen, typeSer.typeId(value, JsonToken.START_ARRAY));
                gen.writeNumber(value.getYear());
                gen.writeNumber(value.getMonthValue());
                gen.writeNumber(value.getDayOfMonth());
                typeSer.writeTypeSuffix(gen, id);
            }
        });
        module.addSerializer(LocalDateTime.class, new StdSerializer<LocalDateTime>(LocalDateTime.class) {
            void fields(LocalDateTime value, JsonGenerator gen) throws IOException {
                gen.writeNumber(value.getYear());
                gen.writeNumber(value.getMonthValue());
                gen.writeNumber(value.getDayOfMonth());
                gen.writeNumber(value.getHour());
                gen.writeNumber(value.getMinute());
                if (value.getSecond() > 0 || value.getNano() > 0) {
                    gen.writeNumber(value.getSecond());
                    if (value.getNano() > 0) {
                        gen.writeNumber(value.getNano());
                    }
                }
            }

            @Override
            public void serialize(LocalDateTime value, JsonGenerator gen, SerializerProvider provider) throws IOException {
                gen.writeStartArray();
                fields(value, gen);
                gen.writeEndArray();
            }

            @Override
            public void serializeWithType(LocalDateTime value, JsonGenerator gen, SerializerProvider provider,
                    TypeSerializer typeSer) throws IOException {
                WritableTypeId id = typeSer.writeTypePrefix(gen, typeSer.typeId(value, JsonToken.START_ARRAY));
                fields(value, gen);
                typeSer.writeTypeSuffix(gen, id);
            }
        });
        module.addDeserializer(LocalDate.class, new StdDeserializer<LocalDate>(LocalDate.class) {
            @Override
            public LocalDate deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
                int[] f = numbers(p);
                return LocalDate.of(f[0], f[1], f[2]);
            }

            @Override
            public Object deserializeWithType(JsonParser p, DeserializationContext ctxt, TypeDeserializer typeDeserializer)
                    throws IOException {
                return typeDeserializer.deserializeTypedFromArray(p, ctxt);
            }
        });
        module.addDeserializer(LocalDateTime.class, new StdDeserializer<LocalDateTime>(LocalDateTime.class) {
            @Override
            public LocalDateTime deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
                int[] f = numbers(p);
                return LocalDateTime.of(f[0], f[1], f[2], f[3], f[4], f.length > 5 ? f[5] : 0, f.length > 6 ? f[6] : 0);
            }

            @Override
            public Object deserializeWithType(JsonParser p, DeserializationContext ctxt, TypeDeserializer typeDeserializer)
                    throws IOException {
                return typeDeserializer.deserializeTypedFromArray(p, ctxt);
            }
        });
        return module;
    }

    static int[] numbers(JsonParser p) throws IOException {
        List<Integer> values = new ArrayList<>();
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new IOException("expected an array, not " + p.currentToken());
        }
        while (p.nextToken() != JsonToken.END_ARRAY) {
            values.add(p.getIntValue());
        }
        return values.stream().mapToInt(Integer::intValue).toArray();
    }

    // -- values <-> typed descriptions -----------------------------------------------------

    static JsonNode describe(Object value) {
        if (value == null) {
            return NODES.nullNode();
        }
        ObjectNode node = NODES.objectNode();
        if (value instanceof Map) {
            node.put("t", "Map");
            node.put("c", value.getClass().getName());
            ObjectNode entries = node.putObject("v");
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                entries.set((String) entry.getKey(), describe(entry.getValue()));
            }
        } else if (value instanceof List) {
            node.put("t", "List");
            ArrayNode items = node.putArray("v");
            for (Object item : (List<?>) value) {
                items.add(describe(item));
            }
        } else if (value instanceof Double) {
            node.put("t", "Double");
            node.put("v", Long.toString(Double.doubleToLongBits((Double) value)));
        } else if (value instanceof Float) {
            node.put("t", "Float");
            node.put("v", Integer.toString(Float.floatToIntBits((Float) value)));
        } else if (value instanceof Date) {
            node.put("t", "Date");
            node.put("v", Long.toString(((Date) value).getTime()));
        } else if (value instanceof LocalDateTime) {
            LocalDateTime t = (LocalDateTime) value;
            node.put("t", "LocalDateTime");
            node.put("v", String.format("%04d-%02d-%02dT%02d:%02d:%02d.%09d", t.getYear(), t.getMonthValue(),
                    t.getDayOfMonth(), t.getHour(), t.getMinute(), t.getSecond(), t.getNano()));
        } else {
            node.put("t", value.getClass().getSimpleName());
            node.put("v", value.toString());
        }
        return node;
    }

    static Object build(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        String type = node.get("t").asText();
        JsonNode v = node.get("v");
        switch (type) {
            case "Map": {
                HashMap<String, Object> map = new HashMap<>();
                Iterator<Map.Entry<String, JsonNode>> fields = v.fields();
                while (fields.hasNext()) {
                    Map.Entry<String, JsonNode> field = fields.next();
                    map.put(field.getKey(), build(field.getValue()));
                }
                return map;
            }
            case "List": {
                ArrayList<Object> list = new ArrayList<>();
                for (JsonNode item : v) {
                    list.add(build(item));
                }
                return list;
            }
            case "String": return v.asText();
            case "Boolean": return Boolean.valueOf(v.asText());
            case "Long": return Long.valueOf(v.asText());
            case "Integer": return Integer.valueOf(v.asText());
            case "Double": return Double.longBitsToDouble(Long.parseLong(v.asText()));
            case "Float": return Float.intBitsToFloat(Integer.parseInt(v.asText()));
            case "Date": return new Date(Long.parseLong(v.asText()));
            case "LocalDate": return LocalDate.parse(v.asText());
            case "LocalDateTime": return LocalDateTime.parse(v.asText());
            default: throw new IllegalArgumentException("unknown type " + type);
        }
    }

    // -- JOB_KEY: DefaultJobKeyGenerator of 5.2 and 6.0 ------------------------------------

    static Object parameterValue(String type, String text) {
        switch (type) {
            case "java.lang.String": return text;
            case "java.lang.Long": return Long.valueOf(text);
            case "java.lang.Integer": return Integer.valueOf(text);
            case "java.lang.Double": return Double.longBitsToDouble(Long.parseLong(text));
            case "java.lang.Boolean": return Boolean.valueOf(text);
            case "java.util.Date": return new Date(Long.parseLong(text));
            case "java.time.LocalDate": return LocalDate.parse(text);
            case "java.time.LocalDateTime": return LocalDateTime.parse(text);
            default: throw new IllegalArgumentException("unknown parameter type " + type);
        }
    }

    static String jobKeyText(JsonNode parameters, int spring) throws Exception {
        List<String> names = new ArrayList<>();
        parameters.fieldNames().forEachRemaining(names::add);
        Collections.sort(names);
        StringBuilder text = new StringBuilder();
        for (String name : names) {
            JsonNode p = parameters.get(name);
            if (!p.get("identifying").asBoolean()) {
                continue;
            }
            String type = p.get("type").asText();
            Object value = parameterValue(type, p.get("value").asText());
            String typeText = "class " + type;  // Class.toString()
            if (spring == 5) {
                // JobParameter.toString() of 5.2
                text.append(name).append("=").append("{value=" + value + ", type=" + typeText
                        + ", identifying=true}").append(";");
            } else {
                // JobParameter.toString() of 6.0, appended without separators
                text.append("JobParameter{name='" + name + "', value=" + value + ", type=" + typeText
                        + ", identifying=true}");
            }
        }
        return text.toString();
    }

    static String md5(String text) throws Exception {
        byte[] digest = MessageDigest.getInstance("MD5").digest(text.getBytes(StandardCharsets.UTF_8));
        StringBuilder hex = new StringBuilder();
        for (byte b : digest) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    // -- Spring Batch 5.2's JDBC DAO statements (JdbcJobInstanceDao, JdbcJobExecutionDao,
    // JdbcStepExecutionDao, JdbcExecutionContextDao) and its id incrementers -------------

    static String contextText(Object map, String format, ObjectMapper jackson) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(1024);
        if (format.equals("java")) {
            try (ObjectOutputStream out = new ObjectOutputStream(Base64.getEncoder().wrap(bytes))) {
                out.writeObject(map);
            }
        } else {
            jackson.writeValue(bytes, map);
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    static Object contextValue(String text, String format, ObjectMapper jackson) throws Exception {
        if (!format.equals("java")) {
            return jackson.readValue(text.getBytes(StandardCharsets.UTF_8), new TypeReference<HashMap<String, Object>>() {});
        }
        return new ObjectInputStream(Base64.getDecoder().wrap(
                new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)))).readObject();
    }

    static final class Dao {
        final Connection connection;
        final int spring;
        final String format;
        final ObjectMapper jackson;
        final boolean sqlite;

        Dao(Connection connection, int spring, String format, ObjectMapper jackson) throws Exception {
            this.connection = connection;
            this.spring = spring;
            this.format = format;
            this.jackson = jackson;
            this.sqlite = connection.getMetaData().getURL().startsWith("jdbc:sqlite");
            connection.setAutoCommit(true);
        }

        long nextId(String incrementer) throws Exception {
            try (Statement statement = connection.createStatement()) {
                if (sqlite) {  // SqliteMaxValueIncrementer
                    statement.executeUpdate("insert into " + incrementer + " values(null)");
                    long next;
                    try (ResultSet rs = statement.executeQuery("select max(rowid) from " + incrementer)) {
                        rs.next();
                        next = rs.getLong(1);
                    }
                    statement.executeUpdate("delete from " + incrementer + " where ID < " + next);
                    return next;
                }
                try (ResultSet rs = statement.executeQuery("select nextval('" + incrementer + "')")) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        }

        int update(String sql, Object... values) throws Exception {
            try (PreparedStatement statement = connection.prepareStatement(sql)) {
                for (int i = 0; i < values.length; i++) {
                    if (values[i] == null) {
                        statement.setNull(i + 1, Types.TIMESTAMP);
                    } else {
                        statement.setObject(i + 1, values[i]);
                    }
                }
                return statement.executeUpdate();
            }
        }

        static Timestamp now() {
            return Timestamp.valueOf(LocalDateTime.now());  // the JVM's local time, as Spring 5 writes
        }

        Long findInstance(String job, String key) throws Exception {
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT JOB_INSTANCE_ID, JOB_NAME FROM BATCH_JOB_INSTANCE WHERE JOB_NAME = ? AND JOB_KEY = ?")) {
                statement.setString(1, job);
                statement.setString(2, key);
                try (ResultSet rs = statement.executeQuery()) {
                    return rs.next() ? rs.getLong(1) : null;
                }
            }
        }

        void saveContext(String table, String column, long id, Object map, boolean insert) throws Exception {
            String text = contextText(map == null ? new HashMap<String, Object>() : map, format, jackson);
            String shortContext = text;
            String longContext = null;
            if (text.length() > 2500) {
                shortContext = text.substring(0, 2500 - 8) + " ...";
                longContext = text;
            }
            String sql = insert
                    ? "INSERT INTO " + table + " (SHORT_CONTEXT, SERIALIZED_CONTEXT, " + column + ") VALUES(?, ?, ?)"
                    : "UPDATE " + table + " SET SHORT_CONTEXT = ?, SERIALIZED_CONTEXT = ? WHERE " + column + " = ?";
            try (PreparedStatement statement = connection.prepareStatement(sql)) {
                statement.setString(1, shortContext);
                if (longContext == null) {
                    statement.setNull(2, Types.CLOB);
                } else {
                    statement.setString(2, longContext);
                }
                statement.setLong(3, id);
                statement.executeUpdate();
            }
        }

        JsonNode act(JsonNode action) throws Exception {
            String what = action.get("do").asText();
            ObjectNode answer = NODES.objectNode();
            String job = action.path("job").asText();
            if (what.equals("find-instance")) {
                Long found = findInstance(job, md5(jobKeyText(action.get("parameters"), spring)));
                answer.put("instance", found);
                return answer;
            }
            if (what.equals("read")) {
                return read(action.get("execution").asLong());
            }
            if (what.equals("running")) {
                // JdbcJobExecutionDao.GET_RUNNING_EXECUTIONS (findRunningJobExecutions)
                ArrayNode ids = answer.putArray("executions");
                try (PreparedStatement statement = connection.prepareStatement(
                        "SELECT E.JOB_EXECUTION_ID, E.START_TIME, E.END_TIME, E.STATUS, E.EXIT_CODE, E.EXIT_MESSAGE, "
                        + "E.CREATE_TIME, E.LAST_UPDATED, E.VERSION, E.JOB_INSTANCE_ID FROM BATCH_JOB_EXECUTION E, "
                        + "BATCH_JOB_INSTANCE I WHERE E.JOB_INSTANCE_ID=I.JOB_INSTANCE_ID AND I.JOB_NAME=? AND "
                        + "E.STATUS IN ('STARTING', 'STARTED', 'STOPPING')")) {
                    statement.setString(1, job);
                    try (ResultSet rs = statement.executeQuery()) {
                        while (rs.next()) {
                            ids.add(rs.getLong(1));
                        }
                    }
                }
                return answer;
            }
            if (what.equals("last-step")) {
                // JdbcStepExecutionDao.GET_LAST_STEP_EXECUTION (getLastStepExecution), newest first
                try (PreparedStatement statement = connection.prepareStatement(
                        "SELECT SE.STEP_EXECUTION_ID, SE.STEP_NAME, SE.START_TIME, SE.END_TIME, SE.STATUS, "
                        + "SE.COMMIT_COUNT, SE.READ_COUNT, SE.FILTER_COUNT, SE.WRITE_COUNT, SE.EXIT_CODE, "
                        + "SE.EXIT_MESSAGE, SE.READ_SKIP_COUNT, SE.WRITE_SKIP_COUNT, SE.PROCESS_SKIP_COUNT, "
                        + "SE.ROLLBACK_COUNT, SE.LAST_UPDATED, SE.VERSION, SE.CREATE_TIME, JE.JOB_EXECUTION_ID, "
                        + "JE.START_TIME, JE.END_TIME, JE.STATUS, JE.EXIT_CODE, JE.EXIT_MESSAGE, JE.CREATE_TIME, "
                        + "JE.LAST_UPDATED, JE.VERSION FROM BATCH_JOB_EXECUTION JE JOIN BATCH_STEP_EXECUTION SE "
                        + "ON SE.JOB_EXECUTION_ID = JE.JOB_EXECUTION_ID WHERE JE.JOB_INSTANCE_ID = ? AND "
                        + "SE.STEP_NAME = ?")) {
                    statement.setLong(1, action.get("instance").asLong());
                    statement.setString(2, action.get("step").asText());
                    long best = -1;
                    Timestamp bestCreated = null;
                    try (ResultSet rs = statement.executeQuery()) {
                        while (rs.next()) {
                            // Spring sorts by CREATE_TIME, then id, and takes the last.
                            Timestamp created = rs.getTimestamp(18);
                            long id = rs.getLong(1);
                            if (bestCreated == null || created.after(bestCreated)
                                    || (created.equals(bestCreated) && id > best)) {
                                best = id;
                                bestCreated = created;
                            }
                        }
                    }
                    answer.put("step", best);
                    answer.set("context", readContext("SELECT SHORT_CONTEXT, SERIALIZED_CONTEXT FROM "
                            + "BATCH_STEP_EXECUTION_CONTEXT WHERE STEP_EXECUTION_ID = ?", best));
                }
                return answer;
            }
            if (what.equals("run-until-stopped")) {
                return runUntilStopped(action);
            }
            if (!what.equals("launch")) {
                throw new IllegalArgumentException("unknown action " + what);
            }
            Begun begun = begin(action);
            String status = action.get("status").asText();
            int count = action.path("count").asInt(0);
            Timestamp ended = now();
            require(update(UPDATE_STEP, begun.started, ended, status, 1, count, 0, count, status, "", 0, 0, 0, 0,
                    ended, begun.step, 0));
            saveContext("BATCH_STEP_EXECUTION_CONTEXT", "STEP_EXECUTION_ID", begun.step, build(action.get("stepContext")), false);
            require(update(UPDATE_JOB, begun.started, ended, status, status, "", begun.created, ended, begun.execution, 1));
            answer.put("instance", begun.instance);
            answer.put("execution", begun.execution);
            answer.put("step", begun.step);
            return answer;
        }

        static final String UPDATE_JOB = "UPDATE BATCH_JOB_EXECUTION SET START_TIME = ?, END_TIME = ?,  STATUS = ?, "
                + "EXIT_CODE = ?, EXIT_MESSAGE = ?, VERSION = VERSION + 1, CREATE_TIME = ?, LAST_UPDATED = ? "
                + "WHERE JOB_EXECUTION_ID = ? AND VERSION = ?";
        static final String UPDATE_STEP = "UPDATE BATCH_STEP_EXECUTION SET START_TIME = ?, END_TIME = ?, STATUS = ?, "
                + "COMMIT_COUNT = ?, READ_COUNT = ?, FILTER_COUNT = ?, WRITE_COUNT = ?, EXIT_CODE = ?, EXIT_MESSAGE = ?, "
                + "VERSION = VERSION + 1, READ_SKIP_COUNT = ?, PROCESS_SKIP_COUNT = ?, WRITE_SKIP_COUNT = ?, "
                + "ROLLBACK_COUNT = ?, LAST_UPDATED = ? WHERE STEP_EXECUTION_ID = ? AND VERSION = ?";

        record Begun(long instance, long execution, long step, Timestamp created, Timestamp started) {}

        // SimpleJobRepository.createJobExecution: find or create the instance, then the
        // execution with its parameters and context; the job STARTED and its step added.
        Begun begin(JsonNode action) throws Exception {
            String job = action.get("job").asText();
            JsonNode parameters = action.get("parameters");
            String key = md5(jobKeyText(parameters, spring));
            Long instance = findInstance(job, key);
            if (instance == null) {
                instance = nextId(spring == 5 ? "BATCH_JOB_SEQ" : "BATCH_JOB_INSTANCE_SEQ");
                update("INSERT INTO BATCH_JOB_INSTANCE(JOB_INSTANCE_ID, JOB_NAME, JOB_KEY, VERSION) VALUES (?, ?, ?, ?)",
                        instance, job, key, 0);
            }
            long execution = nextId("BATCH_JOB_EXECUTION_SEQ");
            Timestamp created = now();
            update("INSERT INTO BATCH_JOB_EXECUTION(JOB_EXECUTION_ID, JOB_INSTANCE_ID, START_TIME, END_TIME, STATUS, "
                    + "EXIT_CODE, EXIT_MESSAGE, VERSION, CREATE_TIME, LAST_UPDATED) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    execution, instance, null, null, "STARTING", "UNKNOWN", "", 0, created, created);
            Iterator<Map.Entry<String, JsonNode>> fields = parameters.fields();
            while (fields.hasNext()) {
                Map.Entry<String, JsonNode> field = fields.next();
                JsonNode p = field.getValue();
                String type = p.get("type").asText();
                Object value = parameterValue(type, p.get("value").asText());
                // JdbcJobExecutionDao's conversion service: ISO instants for dates, toString else.
                String text = value instanceof Date ? ((Date) value).toInstant().toString()
                        : value instanceof LocalDateTime
                        ? java.time.format.DateTimeFormatter.ISO_LOCAL_DATE_TIME.format((LocalDateTime) value)
                        : value.toString();
                update("INSERT INTO BATCH_JOB_EXECUTION_PARAMS(JOB_EXECUTION_ID, PARAMETER_NAME, PARAMETER_TYPE, "
                        + "PARAMETER_VALUE, IDENTIFYING) VALUES (?, ?, ?, ?, ?)",
                        execution, field.getKey(), type, text, p.get("identifying").asBoolean() ? "Y" : "N");
            }
            saveContext("BATCH_JOB_EXECUTION_CONTEXT", "JOB_EXECUTION_ID", execution,
                    build(action.get("jobContext")), true);
            Timestamp started = now();
            require(update(UPDATE_JOB, started, null, "STARTED", "UNKNOWN", "", created, started, execution, 0));
            String stepName = action.get("step").asText();
            long step = nextId("BATCH_STEP_EXECUTION_SEQ");
            update("INSERT INTO BATCH_STEP_EXECUTION(STEP_EXECUTION_ID, VERSION, STEP_NAME, JOB_EXECUTION_ID, START_TIME, "
                    + "END_TIME, STATUS, COMMIT_COUNT, READ_COUNT, FILTER_COUNT, WRITE_COUNT, EXIT_CODE, EXIT_MESSAGE, "
                    + "READ_SKIP_COUNT, WRITE_SKIP_COUNT, PROCESS_SKIP_COUNT, ROLLBACK_COUNT, LAST_UPDATED, CREATE_TIME) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    step, 0, stepName, execution, started, null, "STARTED", 0, 0, 0, 0, "EXECUTING", "", 0, 0, 0, 0,
                    started, started);
            saveContext("BATCH_STEP_EXECUTION_CONTEXT", "STEP_EXECUTION_ID", step, new HashMap<String, Object>(), true);
            return new Begun(instance, execution, step, created, started);
        }

        // A step that commits a chunk every `chunkMs` and, after each, does what Spring 5.2's
        // SimpleJobRepository.update(StepExecution) does: checkForInterruption, i.e.
        // JdbcJobExecutionDao.synchronizeStatus (the job's VERSION, and its STATUS when the
        // version moved on, upgraded into the one in memory). Once the job reads STOPPING the
        // step is terminateOnly: it ends STOPPED at that chunk boundary (TaskletStep's
        // JobInterruptedException) and the job STOPPED (AbstractJob), each saved as Spring
        // saves it. Prints "running EXECUTION_ID" on stderr once the step runs.
        ObjectNode runUntilStopped(JsonNode action) throws Exception {
            Begun begun = begin(action);
            System.err.println("running " + begun.execution);
            System.err.flush();
            long chunkMs = action.path("chunkMs").asLong(50);
            long deadline = System.currentTimeMillis() + action.path("timeoutMs").asLong(120000);
            String jobStatus = "STARTED";
            long jobVersion = 1;
            long stepVersion = 0;
            int chunks = 0;
            while (!jobStatus.equals("STOPPING")) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("no stop request within the time allowed");
                }
                Thread.sleep(chunkMs);
                chunks++;
                Timestamp now = now();
                require(update(UPDATE_STEP, begun.started, null, "STARTED", chunks, chunks, 0, chunks, "EXECUTING", "",
                        0, 0, 0, 0, now, begun.step, stepVersion++));
                long[] synced = synchronizeStatus(begun.execution, jobVersion, jobStatus);
                jobVersion = synced[0];
                jobStatus = STATUSES.get((int) synced[1]);
            }
            String seen = jobStatus;
            Timestamp ended = now();
            require(update(UPDATE_STEP, begun.started, ended, "STOPPED", chunks, chunks, 0, chunks, "STOPPED", "",
                    0, 0, 0, 0, ended, begun.step, stepVersion));
            // SimpleJobRepository.update(JobExecution): synchronizeStatus, then the optimistic update.
            long[] synced = synchronizeStatus(begun.execution, jobVersion, "STOPPED");
            require(update(UPDATE_JOB, begun.started, ended, STATUSES.get((int) synced[1]), "STOPPED", "",
                    begun.created, ended, begun.execution, synced[0]));
            ObjectNode answer = NODES.objectNode();
            answer.put("execution", begun.execution);
            answer.put("step", begun.step);
            answer.put("chunks", chunks);
            answer.put("sawStatus", seen);
            return answer;
        }

        // BatchStatus in Spring's order, and BatchStatus.upgradeTo.
        static final List<String> STATUSES = List.of(
                "COMPLETED", "STARTING", "STARTED", "STOPPING", "STOPPED", "FAILED", "ABANDONED", "UNKNOWN");

        static int upgradeTo(int current, int other) {
            int started = STATUSES.indexOf("STARTED");
            if (current > started || other > started) {
                return Math.max(current, other);
            }
            if (current == 0 || other == 0) {
                return 0;
            }
            return Math.max(current, other);
        }

        // JdbcJobExecutionDao.synchronizeStatus: {version, status index} as Spring keeps them.
        long[] synchronizeStatus(long execution, long version, String status) throws Exception {
            long current;
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT VERSION FROM BATCH_JOB_EXECUTION WHERE JOB_EXECUTION_ID=?")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    rs.next();
                    current = rs.getLong(1);
                }
            }
            int mine = STATUSES.indexOf(status);
            if (current == version) {
                return new long[] {version, mine};
            }
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT STATUS FROM BATCH_JOB_EXECUTION WHERE JOB_EXECUTION_ID=?")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    rs.next();
                    return new long[] {current, upgradeTo(mine, STATUSES.indexOf(rs.getString(1)))};
                }
            }
        }

        static void require(int updated) {
            if (updated != 1) {
                throw new IllegalStateException("optimistic lock failure: " + updated + " rows updated");
            }
        }

        ObjectNode read(long execution) throws Exception {
            ObjectNode answer = NODES.objectNode();
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT JI.JOB_INSTANCE_ID, JOB_NAME, JOB_KEY, JI.VERSION FROM BATCH_JOB_INSTANCE JI, BATCH_JOB_EXECUTION JE "
                    + "WHERE JOB_EXECUTION_ID = ? AND JI.JOB_INSTANCE_ID = JE.JOB_INSTANCE_ID")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    rs.next();
                    answer.put("instance", rs.getLong(1));
                    answer.put("job", rs.getString(2));
                    answer.put("key", rs.getString(3));
                }
            }
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT JOB_EXECUTION_ID, START_TIME, END_TIME, STATUS, EXIT_CODE, EXIT_MESSAGE, CREATE_TIME, "
                    + "LAST_UPDATED, VERSION FROM BATCH_JOB_EXECUTION WHERE JOB_EXECUTION_ID = ?")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    rs.next();
                    answer.put("status", rs.getString("STATUS"));
                    answer.put("exitCode", rs.getString("EXIT_CODE"));
                    answer.put("version", rs.getLong("VERSION"));
                    answer.put("createTime", rs.getTimestamp("CREATE_TIME").toLocalDateTime().toString());
                }
            }
            ObjectNode parameters = answer.putObject("parameters");
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT JOB_EXECUTION_ID, PARAMETER_NAME, PARAMETER_TYPE, PARAMETER_VALUE, IDENTIFYING "
                    + "FROM BATCH_JOB_EXECUTION_PARAMS WHERE JOB_EXECUTION_ID = ?")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    while (rs.next()) {
                        // JdbcJobExecutionDao converts the text back to the declared type.
                        String type = rs.getString(3);
                        String text = rs.getString(4);
                        Object value;
                        switch (type) {
                            case "java.util.Date": value = Date.from(Instant.parse(text)); break;
                            case "java.lang.Long": value = Long.valueOf(text); break;
                            case "java.lang.Double": value = Double.valueOf(text); break;
                            case "java.lang.Boolean": value = Boolean.valueOf(text); break;
                            default: value = text;
                        }
                        ObjectNode p = parameters.putObject(rs.getString(2));
                        p.set("value", describe(value));
                        p.put("identifying", rs.getString(5).equals("Y"));
                    }
                }
            }
            answer.set("context", readContext("SELECT SHORT_CONTEXT, SERIALIZED_CONTEXT FROM BATCH_JOB_EXECUTION_CONTEXT "
                    + "WHERE JOB_EXECUTION_ID = ?", execution));
            ArrayNode steps = answer.putArray("steps");
            try (PreparedStatement statement = connection.prepareStatement(
                    "SELECT STEP_EXECUTION_ID, STEP_NAME, START_TIME, END_TIME, STATUS, COMMIT_COUNT, READ_COUNT, "
                    + "FILTER_COUNT, WRITE_COUNT, EXIT_CODE, EXIT_MESSAGE, READ_SKIP_COUNT, WRITE_SKIP_COUNT, "
                    + "PROCESS_SKIP_COUNT, ROLLBACK_COUNT, LAST_UPDATED, VERSION, CREATE_TIME FROM BATCH_STEP_EXECUTION "
                    + "WHERE JOB_EXECUTION_ID = ? ORDER BY STEP_EXECUTION_ID")) {
                statement.setLong(1, execution);
                try (ResultSet rs = statement.executeQuery()) {
                    while (rs.next()) {
                        ObjectNode step = steps.addObject();
                        step.put("name", rs.getString("STEP_NAME"));
                        step.put("status", rs.getString("STATUS"));
                        step.put("readCount", rs.getLong("READ_COUNT"));
                        step.put("writeCount", rs.getLong("WRITE_COUNT"));
                        step.put("commitCount", rs.getLong("COMMIT_COUNT"));
                        step.set("context", readContext("SELECT SHORT_CONTEXT, SERIALIZED_CONTEXT FROM "
                                + "BATCH_STEP_EXECUTION_CONTEXT WHERE STEP_EXECUTION_ID = ?", rs.getLong(1)));
                    }
                }
            }
            return answer;
        }

        JsonNode readContext(String sql, long id) throws Exception {
            try (PreparedStatement statement = connection.prepareStatement(sql)) {
                statement.setLong(1, id);
                try (ResultSet rs = statement.executeQuery()) {
                    if (!rs.next()) {
                        return NODES.nullNode();
                    }
                    // ExecutionContextRowMapper: SERIALIZED_CONTEXT, else SHORT_CONTEXT.
                    String text = rs.getString(2);
                    if (text == null) {
                        text = rs.getString(1);
                    }
                    return describe(contextValue(text, format, jackson));
                }
            }
        }
    }
}
