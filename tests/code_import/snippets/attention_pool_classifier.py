import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

class AttnPoolClassifier(nn.Module):
    def __init__(self, name="sentence-transformers/all-MiniLM-L6-v2", n_classes=3):
        super().__init__()
        self.encoder = AutoModel.from_pretrained(name)
        hidden = self.encoder.config.hidden_size
        self.score = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        s = self.score(h).squeeze(-1)                      # (B, L)
        s = s.masked_fill(attention_mask == 0, float("-inf"))
        w = torch.softmax(s, dim=-1)                        # (B, L)
        pooled = (h * w.unsqueeze(-1)).sum(dim=1)           # (B, H)
        return self.head(self.dropout(pooled))

tok = AutoTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
model = AttnPoolClassifier()
batch = tok(["great film", "a long and rather boring film that I would not watch again"], padding=True, return_tensors="pt")
logits = model(batch["input_ids"], batch["attention_mask"])
loss = F.cross_entropy(logits, torch.tensor([2, 0]))
print(logits.shape, loss)
