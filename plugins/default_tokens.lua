-- default_tokens: the built-in token policy, as a plugin you can edit.
--
-- Issuing: a token lives as long as its creator asked (`ttl_seconds` of POST /api/v1/tokens,
-- `--ttl` of `reprise token create`); without a request it lives until revoked.
-- Streaming: every valid, unrevoked token may stream.
--
-- Config (plugins.config.default_tokens), optional:
--   max_ttl_seconds: 2592000   # cap every token's lifetime (also tokens asked without a TTL)

local max_ttl = reprise.config.max_ttl_seconds
-- Reprise refuses lifetimes over 100 years (3155760000 s); a larger cap would deny every token.
local LIMIT = 3155760000

return {
  name = "default_tokens",
  version = "1.0",

  -- Runs once at load (and in `reprise plugin check`): a bad config stops the server from starting.
  check = function()
    if max_ttl ~= nil and (math.type(max_ttl) ~= "integer" or max_ttl <= 0 or max_ttl > LIMIT) then
      return false, "plugins.config.default_tokens.max_ttl_seconds must be an integer from 1 to " .. LIMIT
    end
    return true
  end,

  hooks = {
    ---@param ctx reprise.TokenIssueContext
    token_issue = function(ctx)
      local ttl = ctx.requested_ttl_seconds
      if max_ttl ~= nil and (ttl == nil or ttl > max_ttl) then ttl = max_ttl end
      return { ttl_seconds = ttl } -- nil ttl_seconds: no expiry
    end,

    ---@param ctx reprise.AuthorizeContext
    token_authorize = function(ctx)
      return true
    end,
  },
}
