-- Wireshark dissector for SOLEC, the protocol `solec serve` speaks.
--
-- The wire format is docs/protocol.md; every field is named as there and in
-- the SOLEC draft (source_address, send_time, ...), so a display filter reads
-- like the spec: `solec.target_address == "#general@localhost"`.
--
-- Install: copy this file to ~/.local/lib/wireshark/plugins/ (or
-- /usr/lib/x86_64-linux-gnu/wireshark/plugins/), or load it once:
--   wireshark -X lua_script:packaging/wireshark/solec.lua
--   tshark -X lua_script:packaging/wireshark/solec.lua -r capture.pcap
-- TCP port 7447 is SOLEC by default (preference solec.tcp_port); for any
-- other port use Decode As, or `-d tcp.port==9000,solec` in tshark.
-- Inside TLS (port 7448 by default) the same dissector runs on decrypted
-- application data when Wireshark has the session keys.
--
-- A PDU is `type u8, length u16, payload`; PDUs that span TCP segments are
-- reassembled, and several in one segment are each shown. A PDU whose
-- payload does not hold exactly its type's fields is marked malformed
-- (expert info solec.malformed), as the server would refuse it.

local solec = Proto("solec", "SOLEC (System of Lightweight Electronic Communication)")

local HEADER_LEN = 3
local DEFAULT_TCP_PORT = 7447
local DEFAULT_TLS_PORT = 7448
-- The server's default max_pdu_bytes: a longer payload is refused from its
-- header. Not malformed on the wire, so only a warning here.
local DEFAULT_MAX_PDU_BYTES = 8192

local type_names = {
    [0x00] = "Reserved",
    [0x01] = "Success",
    [0x02] = "Error",
    [0x03] = "Handshake",
    [0x04] = "UserAuth",
    [0x05] = "Message",
    [0x06] = "ServerAuth",
    [0x07] = "UserMode",
    [0x08] = "History",
    [0x80] = "ContactAdd",
    [0x81] = "ContactRemove",
    [0x82] = "ContactList",
    [0x83] = "Contact",
    [0x84] = "Features",
    [0x85] = "HistoryItem",
    [0x86] = "LinkNonce",
    [0x87] = "LinkProof",
    [0x88] = "RelayFrom",
    [0x89] = "RelayAck",
    [0x8A] = "RelayRefused",
    [0x8B] = "RelayHistory",
    [0x8C] = "TokenRequest",
    [0x8D] = "Token",
    [0x8E] = "TokenAuth",
    [0xFF] = "Test",
}

local error_types = {
    [0x01] = "client auth failed",
    [0x02] = "not found",
    [0x03] = "unauthorized",
    [0x80] = "bad request",
    [0x81] = "too large",
    [0x82] = "unsupported",
    [0x83] = "server error",
    [0x84] = "slow down",
}

local conn_types = {
    [0x01] = "user -> server",
    [0x02] = "server -> server",
}

local modes = {
    [0x00] = "leave",
    [0x01] = "member",
    [0x02] = "operator",
    [0x03] = "banned",
}

local f = solec.fields
f.type = ProtoField.uint8("solec.type", "type", base.HEX, type_names)
f.length = ProtoField.uint16("solec.length", "length", base.DEC)
f.payload = ProtoField.bytes("solec.payload", "payload")
f.string_length = ProtoField.uint16("solec.string_length", "string length", base.DEC)
f.error_type = ProtoField.uint8("solec.error_type", "error_type", base.HEX, error_types)
f.ver_major = ProtoField.uint8("solec.ver_major", "ver_major", base.DEC)
f.ver_minor = ProtoField.uint8("solec.ver_minor", "ver_minor", base.DEC)
f.conn_type = ProtoField.uint8("solec.conn_type", "conn_type", base.HEX, conn_types)
f.username = ProtoField.string("solec.username", "username")
f.password = ProtoField.string("solec.password", "password")
f.source_address = ProtoField.string("solec.source_address", "source_address")
f.target_address = ProtoField.string("solec.target_address", "target_address")
f.send_time = ProtoField.uint64("solec.send_time", "send_time", base.DEC)
f.message_content = ProtoField.string("solec.message_content", "message_content")
f.name = ProtoField.string("solec.name", "name")
f.user_address = ProtoField.string("solec.user_address", "user_address")
f.channel_address = ProtoField.string("solec.channel_address", "channel_address")
f.mode = ProtoField.uint8("solec.mode", "mode", base.HEX, modes)
f.since = ProtoField.uint64("solec.since", "since", base.DEC)
f.count = ProtoField.int64("solec.count", "count", base.DEC)
f.offset = ProtoField.int64("solec.offset", "offset", base.DEC)
f.address = ProtoField.string("solec.address", "address")
f.flags = ProtoField.uint16("solec.flags", "flags", base.DEC)
-- As hex text: a bytes field's display stops after 36 bytes.
f.nonce = ProtoField.string("solec.nonce", "nonce")
f.signature = ProtoField.string("solec.signature", "signature")
f.requester = ProtoField.string("solec.requester", "requester")
-- A session token logs its user in, like a password: shown so a capture
-- of one's own traffic can be checked, as the password is.
f.token = ProtoField.string("solec.token", "token")
f.expires = ProtoField.uint64("solec.expires", "expires", base.DEC)
f.number = ProtoField.uint64("solec.number", "number", base.DEC)
f.num1 = ProtoField.uint8("solec.num1", "num1", base.DEC)
f.num2 = ProtoField.uint16("solec.num2", "num2", base.DEC)
f.num3 = ProtoField.uint32("solec.num3", "num3", base.DEC)
f.num4 = ProtoField.uint64("solec.num4", "num4", base.DEC)

local e_malformed = ProtoExpert.new("solec.malformed", "Malformed SOLEC PDU",
    expert.group.MALFORMED, expert.severity.ERROR)
local e_over_limit = ProtoExpert.new("solec.over_limit",
    "Payload over the server's default max_pdu_bytes (8192): refused from the header",
    expert.group.PROTOCOL, expert.severity.WARN)
local e_unknown = ProtoExpert.new("solec.unknown_type",
    "PDU type unknown to solec: skipped by its length, answered with Error 0x82",
    expert.group.UNDECODED, expert.severity.NOTE)
solec.experts = { e_malformed, e_over_limit, e_unknown }

solec.prefs.tcp_port = Pref.uint("TCP port", DEFAULT_TCP_PORT, "Plain TCP port dissected as SOLEC")

-- True if the bytes of `range` are valid UTF-8 (the draft's strings are).
-- Lua 5.2 in Wireshark has no utf8 library, hence the hand-written check.
local function valid_utf8(range)
    local bytes = range:bytes()
    local i, n = 0, bytes:len()
    while i < n do
        local b = bytes:get_index(i)
        local extra, min
        if b < 0x80 then
            extra, min = 0, 0
        elseif b >= 0xC2 and b <= 0xDF then
            extra, min = 1, 0x80
        elseif b >= 0xE0 and b <= 0xEF then
            extra, min = 2, 0x800
        elseif b >= 0xF0 and b <= 0xF4 then
            extra, min = 3, 0x10000
        else
            return false
        end
        if i + extra >= n then
            return false
        end
        local cp = (extra == 0) and b or (b % (2 ^ (6 - extra)))
        for k = 1, extra do
            local c = bytes:get_index(i + k)
            if c < 0x80 or c > 0xBF then
                return false
            end
            cp = cp * 64 + (c - 0x80)
        end
        if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
            return false
        end
        i = i + extra + 1
    end
    return true
end

-- A checked cursor over one payload, like src/proto/reader.rs: each read
-- adds its field to the tree, and the first field that does not fit marks
-- the PDU malformed and stops the rest.
local Cursor = {}
Cursor.__index = Cursor

-- A cursor over the payload of the whole PDU in `tvb`.
local function cursor(tvb, tree)
    return setmetatable({ tvb = tvb, pos = HEADER_LEN, tree = tree, bad = false }, Cursor)
end

function Cursor:malformed(text)
    if not self.bad then
        self.bad = true
        self.tree:add_proto_expert_info(e_malformed, text)
    end
end

function Cursor:left()
    return self.tvb:len() - self.pos
end

-- Reads a fixed-width big-endian number field of `size` bytes; returns
-- its range and tree item.
function Cursor:fixed(field, name, size)
    if self.bad then return nil end
    if self:left() < size then
        self:malformed(name .. " cut short: needs " .. size .. " bytes, " .. self:left() .. " left")
        return nil
    end
    local range = self.tvb(self.pos, size)
    local item = self.tree:add(field, range)
    self.pos = self.pos + size
    return range, item
end

-- Reads a fixed-size raw field of `size` bytes, shown whole in hex.
function Cursor:hex(field, name, size)
    if self.bad then return nil end
    if self:left() < size then
        self:malformed(name .. " cut short: needs " .. size .. " bytes, " .. self:left() .. " left")
        return nil
    end
    local range = self.tvb(self.pos, size)
    self.tree:add(field, range, range:bytes():tohex(true))
    self.pos = self.pos + size
end

-- Reads a timestamp: uint64 Unix seconds, UTC, shown with its date too.
function Cursor:timestamp(field, name)
    local range, item = self:fixed(field, name, 8)
    if not range then return end
    local secs = range:uint64()
    -- Only years 1970-9999 are shown as a date; the number is the field.
    if secs < UInt64(253402300800) then
        item:append_text(" (" .. os.date("!%Y-%m-%d %H:%M:%S UTC", secs:tonumber()) .. ")")
    end
end

-- Reads a string field: uint16 byte count, then that many bytes of UTF-8.
function Cursor:string(field, name)
    if self.bad then return nil end
    if self:left() < 2 then
        self:malformed(name .. " length cut short")
        return nil
    end
    local n = self.tvb(self.pos, 2):uint()
    if self:left() - 2 < n then
        self:malformed(name .. " claims " .. n .. " bytes, " .. (self:left() - 2) .. " remain")
        local len_item = self.tree:add(f.string_length, self.tvb(self.pos, 2))
        len_item:prepend_text(name .. " ")
        return nil
    end
    local whole = self.tvb(self.pos, 2 + n)
    local text = n > 0 and self.tvb(self.pos + 2, n) or nil
    local item
    if text then
        item = self.tree:add(field, whole, text:string(ENC_UTF_8))
    else
        item = self.tree:add(field, whole, "")
    end
    item:add(f.string_length, self.tvb(self.pos, 2))
    if text and not valid_utf8(text) then
        self:malformed(name .. " is not valid UTF-8")
    end
    self.pos = self.pos + 2 + n
    return text
end

-- The payload must hold exactly its fields: trailing bytes are malformed.
function Cursor:finish()
    if not self.bad and self:left() > 0 then
        self:malformed(self:left() .. " bytes after the last field")
    end
end

-- Message (0x05) and HistoryItem (0x85) share one layout.
local function message(c)
    c:string(f.source_address, "source_address")
    c:string(f.target_address, "target_address")
    c:timestamp(f.send_time, "send_time")
    c:string(f.message_content, "message_content")
end

-- Field layouts by type, in wire order (docs/protocol.md section 5).
local payloads = {
    [0x01] = function(c) end,
    [0x02] = function(c) c:fixed(f.error_type, "error_type", 1) end,
    [0x03] = function(c)
        c:fixed(f.ver_major, "ver_major", 1)
        c:fixed(f.ver_minor, "ver_minor", 1)
        c:fixed(f.conn_type, "conn_type", 1)
    end,
    [0x04] = function(c)
        c:string(f.username, "username")
        c:string(f.password, "password")
    end,
    [0x05] = message,
    [0x85] = message,
    [0x06] = function(c) c:string(f.name, "name") end,
    [0x07] = function(c)
        c:string(f.user_address, "user_address")
        c:string(f.channel_address, "channel_address")
        c:fixed(f.mode, "mode", 1)
    end,
    [0x08] = function(c)
        c:string(f.channel_address, "channel_address")
        c:timestamp(f.since, "since")
        c:fixed(f.count, "count", 8)
        c:fixed(f.offset, "offset", 8)
    end,
    [0x80] = function(c) c:string(f.address, "address") end,
    [0x81] = function(c) c:string(f.address, "address") end,
    [0x82] = function(c) end,
    [0x83] = function(c) c:string(f.address, "address") end,
    [0x84] = function(c) c:fixed(f.flags, "flags", 2) end,
    [0x86] = function(c) c:hex(f.nonce, "nonce", 32) end,
    [0x87] = function(c) c:hex(f.signature, "signature", 64) end,
    [0x88] = function(c) c:fixed(f.number, "number", 8) end,
    [0x89] = function(c) c:fixed(f.number, "number", 8) end,
    [0x8B] = function(c)
        c:string(f.requester, "requester")
        c:string(f.channel_address, "channel_address")
        c:timestamp(f.since, "since")
        c:fixed(f.count, "count", 8)
        c:fixed(f.offset, "offset", 8)
    end,
    [0x8C] = function(c) end,
    [0x8D] = function(c)
        c:hex(f.token, "token", 32)
        c:timestamp(f.expires, "expires")
    end,
    [0x8E] = function(c)
        c:string(f.username, "username")
        c:hex(f.token, "token", 32)
    end,
    [0x8A] = function(c)
        c:fixed(f.number, "number", 8)
        c:fixed(f.error_type, "error_type", 1)
    end,
    [0xFF] = function(c)
        c:fixed(f.num1, "num1", 1)
        c:fixed(f.num2, "num2", 2)
        c:fixed(f.num3, "num3", 4)
        c:fixed(f.num4, "num4", 8)
    end,
}

-- Types whose Info summary names their first string field.
local first_string_shown = { [0x05] = true, [0x07] = true, [0x08] = true,
    [0x80] = true, [0x81] = true, [0x83] = true, [0x85] = true }

-- A short summary of the whole PDU in `tvb` for the Info column.
local function summary(code, tvb)
    local name = type_names[code] or string.format("Unknown(0x%02x)", code)
    local len = tvb:len()
    if code == 0x02 and len >= HEADER_LEN + 1 then
        return string.format("%s 0x%02x", name, tvb(HEADER_LEN, 1):uint())
    elseif first_string_shown[code] and len >= HEADER_LEN + 2 then
        local n = tvb(HEADER_LEN, 2):uint()
        if n > 0 and len >= HEADER_LEN + 2 + n then
            return name .. " " .. tvb(HEADER_LEN + 2, n):string(ENC_UTF_8)
        end
    end
    return name
end

-- How many bytes the PDU starting at `offset` takes, header included.
local function pdu_length(tvb, pinfo, offset)
    return HEADER_LEN + tvb(offset + 1, 2):uint()
end

-- The frame whose Info column the last PDU wrote to.
local info_frame = nil

-- Dissects one whole PDU (dissect_tcp_pdus hands over exactly one).
local function dissect_pdu(tvb, pinfo, tree)
    local code = tvb(0, 1):uint()
    local length = tvb(1, 2):uint()
    local name = type_names[code] or string.format("Unknown(0x%02x)", code)
    local pdu_tree = tree:add(solec, tvb(), "SOLEC " .. name)
    pdu_tree:add(f.type, tvb(0, 1))
    local len_item = pdu_tree:add(f.length, tvb(1, 2))
    if length > DEFAULT_MAX_PDU_BYTES then
        len_item:add_proto_expert_info(e_over_limit)
    end

    local c = cursor(tvb, pdu_tree)
    local layout = payloads[code]
    if code == 0x00 then
        -- "0x00 ... R": reserved, never valid on the wire.
        c:malformed("type 0x00 is reserved")
        if length > 0 then pdu_tree:add(f.payload, tvb(HEADER_LEN, length)) end
    elseif layout then
        layout(c)
        c:finish()
    else
        pdu_tree:add_proto_expert_info(e_unknown)
        if length > 0 then pdu_tree:add(f.payload, tvb(HEADER_LEN, length)) end
    end

    local info = summary(code, tvb)
    if c.bad then
        info = info .. " [Malformed]"
        pdu_tree:append_text(" [Malformed]")
    end
    -- Several PDUs in one frame are listed in order, comma-separated.
    if info_frame == pinfo.number then
        pinfo.cols.info:append(", " .. info)
    else
        pinfo.cols.info:set(info)
        info_frame = pinfo.number
    end
    return tvb:len()
end

function solec.dissector(tvb, pinfo, tree)
    pinfo.cols.protocol:set("SOLEC")
    info_frame = nil
    dissect_tcp_pdus(tvb, tree, HEADER_LEN, pdu_length, dissect_pdu)
    return tvb:len()
end

local tcp_port_table = DissectorTable.get("tcp.port")
local registered_port = solec.prefs.tcp_port

function solec.prefs_changed()
    if registered_port ~= solec.prefs.tcp_port then
        if registered_port ~= 0 then tcp_port_table:remove(registered_port, solec) end
        registered_port = solec.prefs.tcp_port
        if registered_port ~= 0 then tcp_port_table:add(registered_port, solec) end
    end
end

tcp_port_table:add(registered_port, solec)
-- The TLS listener carries the same bytes once decrypted.
pcall(function() DissectorTable.get("tls.port"):add(DEFAULT_TLS_PORT, solec) end)
