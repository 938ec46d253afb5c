// The openai Node client, unchanged: only its baseURL points at the gateway.
// Usage: node client.mjs BASE_URL API_KEY MODEL  → prints one JSON line with what it got.
import OpenAI from "openai";

const [baseURL, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const messages = [{ role: "user", content: "hello from node" }];

const plain = await client.chat.completions.create({ model, messages });
let streamed = "";
const stream = await client.chat.completions.create({ model, messages, stream: true });
for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? "";
let errorStatus = null;
try {
  await client.chat.completions.create({ model: "no-such-route", messages });
} catch (err) {
  errorStatus = err instanceof OpenAI.APIError ? err.status : String(err);
}
const models = await client.models.list();
console.log(JSON.stringify({
  content: plain.choices[0].message.content,
  usage: plain.usage,
  streamed,
  errorStatus,
  models: models.data.map((m) => m.id),
}));
