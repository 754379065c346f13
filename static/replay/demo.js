/* The demo shop's own behaviour: a cart and a checkout form. Nothing here knows about
 * recording; recorder.js is added by its own script tag, as on any customer site. */
(function () {
  'use strict';

  const cart = [];
  const $ = (id) => document.getElementById(id);

  function renderCart() {
    const list = $('cart-items');
    list.innerHTML = '';
    if (!cart.length) list.innerHTML = '<li class="empty">Nothing here yet.</li>';
    for (const item of cart) {
      const li = document.createElement('li');
      li.textContent = item.name + ' — $' + item.price;
      list.appendChild(li);
    }
    $('cart-count').textContent = String(cart.length);
    $('cart-total').textContent = String(cart.reduce((sum, item) => sum + item.price, 0));
  }

  for (const product of document.querySelectorAll('.product')) {
    product.querySelector('.add').addEventListener('click', () => {
      cart.push({ sku: product.dataset.sku, name: product.querySelector('h2').textContent, price: Number(product.dataset.price) });
      renderCart();
    });
  }

  $('checkout').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.target;
    const problems = [];
    if (!cart.length) problems.push('Your cart is empty.');
    if (!form.name.value.trim()) problems.push('Please enter your name.');
    if (!/^\S+@\S+\.\S+$/.test(form.email.value)) problems.push('Please enter a valid email.');
    if (form.card.value.replace(/\D/g, '').length < 12) problems.push('Please enter a card number.');
    const error = $('form-error');
    if (problems.length) {
      error.textContent = problems.join(' ');
      error.hidden = false;
      return;
    }
    error.hidden = true;
    form.hidden = true;
    $('order-number').textContent = '#' + (1000 + cart.length * 7);
    $('confirmation').hidden = false;
    if (window.replay) window.replay.track('purchase', { items: cart.length });
  });
})();
